"""The Go SDK (sdk/go) against a live Flow, and its documents as Python reads them.

``go test ./...`` runs the Go scenario table; the Go tests read the Flow's addresses from
``DOCWIRE_GATEWAY`` and ``DOCWIRE_EXECUTORS`` and fail without them, so they run here,
against the ``sdk_flow`` fixture. Module downloads belong to ``make tools-go``; a missing
``go`` fails the test (never skips it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from docarray import DocList
from docarray.documents.legacy import LegacyDocument
from docarray.proto import DocListProto

from docwire import Document, Flow
from docwire_contract.codec import decode_docs

from .support import REPO_ROOT

GO_SDK = REPO_ROOT / "sdk" / "go"
#: Documents the Go SDK encoded (``goldenDocuments`` in sdk/go/docwire/golden_test.go, which
#: keeps this file current).
GO_DOCUMENTS = GO_SDK / "docwire" / "testdata" / "go_documents.binpb"
#: What ``go test`` may take in all, builds included; its own -timeout is a bit less, so a
#: hanging test prints its goroutines before this limit is hit.
GO_TEST_TIMEOUT = 540.0
GO_TEST_ARGS = ("test", "-count=1", "-timeout=480s", "./...")


def go_binary() -> str:
    """The ``go`` command; fails the test when it is not on PATH."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("`go` is not on PATH: install Go 1.26+, then run `make tools-go`", pytrace=False)
    return go


def flow_env(flow: Flow) -> dict[str, str]:
    """The environment naming the Flow's gateway and every executor replica for the Go tests."""
    executors = [address for addresses in flow.executor_addresses.values() for address in addresses]
    return {
        **os.environ,
        "DOCWIRE_GATEWAY": f"127.0.0.1:{flow.port}",
        "DOCWIRE_EXECUTORS": ",".join(executors),
    }


@pytest.mark.timeout(GO_TEST_TIMEOUT + 30)
def test_go_sdk_passes_its_scenarios_against_a_live_flow(sdk_flow: Flow) -> None:
    argv = [go_binary(), *GO_TEST_ARGS]
    command = f"$ cd sdk/go && go {' '.join(GO_TEST_ARGS)}"
    try:
        run = subprocess.run(
            argv,
            cwd=GO_SDK,
            env=flow_env(sdk_flow),
            capture_output=True,
            text=True,
            timeout=GO_TEST_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{command}\ndid not finish within {GO_TEST_TIMEOUT:g}s; output:\n{exc.stdout!r}\n{exc.stderr!r}")
    assert run.returncode == 0, f"{command}\nexit code {run.returncode}\n{run.stdout}\n{run.stderr}"


def _docwire_decode(raw: bytes) -> list[Any]:
    return list(decode_docs(raw, Document))


def _docarray_decode(raw: bytes) -> list[Any]:
    return list(DocList[LegacyDocument].from_protobuf(DocListProto.FromString(raw)))


@pytest.mark.parametrize("decode", [_docwire_decode, _docarray_decode], ids=["docwire", "docarray"])
def test_python_reads_what_the_go_sdk_encodes(decode: Callable[[bytes], list[Any]]) -> None:
    (doc,) = decode(GO_DOCUMENTS.read_bytes())
    assert (doc.id, doc.text, str(doc.url), doc.blob) == (
        "go-1",
        "hello from Go",
        "https://example.com/a.png",
        b"\x00\x01\x02",
    )
    assert doc.tensor.dtype == np.float32
    np.testing.assert_array_equal(doc.tensor, np.arange(1, 7, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(doc.embedding, np.array([0.5, -1, 2], dtype=np.float32))
    assert doc.tags == {"n": 3, "f": 0.25, "ok": True, "s": "x", "l": [1, "a"], "d": {"k": None}}
    (match,) = doc.matches
    assert (match.id, match.text) == ("m-1", "match")
    np.testing.assert_array_equal(match.embedding, np.array([1, 0], dtype=np.float32))
    assert [(chunk.id, chunk.text) for chunk in doc.chunks] == [("c-1", "chunk")]
