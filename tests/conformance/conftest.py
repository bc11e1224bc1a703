"""One Flow of real processes for the conformance tests, and the addresses of its servers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The sample executors live in tests/integration as the module `executors`; worker
# processes import them by that name and inherit our sys.path through PYTHONPATH.
_INTEGRATION = str(Path(__file__).resolve().parent.parent / "integration")
if _INTEGRATION not in sys.path:
    sys.path.insert(0, _INTEGRATION)

from executors import Appender, Embedder, Faulty, Streamer  # noqa: E402

from docwire import Executor, Flow  # noqa: E402

from .support import REPLICAS, WORKERS  # noqa: E402

_USES: dict[str, type[Executor]] = {"first": Appender, "embedder": Embedder, "streamer": Streamer}


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    """Two Appender replicas, an Embedder on /embed and a generator endpoint /hello, behind one gateway."""
    built = Flow(host="127.0.0.1")
    for name, replicas in REPLICAS.items():
        built.add(uses=_USES[name], name=name, replicas=replicas)
    with built:
        yield built


@pytest.fixture(scope="module")
def gateway(flow: Flow) -> str:
    """The gateway's address."""
    return f"127.0.0.1:{flow.port}"


@pytest.fixture(scope="module")
def workers(flow: Flow) -> dict[str, str]:
    """Every executor replica's address, by ``<executor>/rep-<i>``."""
    found = {
        f"{name}/rep-{replica}": address
        for name, addresses in flow.executor_addresses.items()
        for replica, address in enumerate(addresses)
    }
    assert sorted(found) == sorted(WORKERS)
    return found


@pytest.fixture(scope="module")
def sdk_flow() -> Iterator[Flow]:
    """The Flow the Go and JS SDK suites run their scenario table against.

    ``first`` (two Appender replicas: appends ``[first]``, returns a dict result),
    ``embedder`` (``/embed``: float32 ``[len(text), 0, 1, 2]``), ``streamer`` (generator
    ``/hello`` yielding ``count`` documents ``"<text> <i>"``), ``faulty`` (``/fail`` raises
    NotImplementedError('no time for it'), ``/ok`` sets text to "ok").
    """
    flow = (
        Flow(host="127.0.0.1")
        .add(uses=Appender, name="first", replicas=2)
        .add(uses=Embedder, name="embedder")
        .add(uses=Streamer, name="streamer")
        .add(uses=Faulty, name="faulty")
    )
    with flow:
        yield flow
