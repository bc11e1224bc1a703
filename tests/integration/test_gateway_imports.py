"""What a gateway process imports for the protocols it serves.

A gRPC-only gateway forwards document bytes: it loads no HTTP, WebSocket or GraphQL stack and
no document library. An HTTP gateway loads Starlette, uvicorn and the document JSON, and GraphQL's
stack only once a client asks for GraphQL.

The gateway runs from its real entry point (``docwire.gateway.app.main``: its spec pickled on stdin,
its ports reported on the ready pipe) in a ``python -c`` child that prints ``sorted(sys.modules)``
after the gateway has stopped, so what serving the requests imported counts too. Its executor is
a real replica (a Deployment without a gateway).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from docarray import DocList
from executors import Appender, TextDoc

from docwire import Client, Deployment
from docwire.gateway.router import ExecutorNode
from docwire.gateway.spec import GatewaySpec
from docwire.orchestration import pickling

#: Served only over HTTP and WebSocket (GraphQL: on its first request).
WEB_STACK = frozenset({"starlette", "uvicorn", "h11", "strawberry", "graphql"})
#: What decoding documents takes; a gateway forwarding bytes never needs it.
DOCUMENT_STACK = frozenset({"docarray", "numpy", "pydantic", "pydantic_core"})
GRAPHQL_STACK = frozenset({"strawberry", "graphql"})

_ENTRY = (
    "import json, sys; from docwire.gateway import app; app.main(sys.argv[1:]); print(json.dumps(sorted(sys.modules)))"
)


@pytest.fixture(scope="module")
def appender() -> Iterator[ExecutorNode]:
    with Deployment(uses=Appender, name="appender", include_gateway=False, host="127.0.0.1") as served:
        yield ExecutorNode("appender", served.executor_addresses["appender"])


Ports = dict[str, int]


def _gateway_packages(node: ExecutorNode, protocols: tuple[str, ...], use: Callable[[Ports], None]) -> set[str]:
    """Serves ``node`` behind a gateway on ``protocols``, runs ``use(ports)``, stops it; returns the
    top-level packages the gateway process had imported by then."""
    spec = GatewaySpec(executors=(node,), host="127.0.0.1", protocols=protocols, ports=(0,) * len(protocols))
    ready_read, ready_write = os.pipe()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or str(Path.cwd()) for p in sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", _ENTRY, "--ready-fd", str(ready_write)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        pass_fds=(ready_write,),
        env=env,
    )
    os.close(ready_write)
    try:
        assert child.stdin is not None
        with child.stdin as stdin:
            stdin.write(pickling.dumps(spec))
        child.stdin = None  # sent and closed: communicate() below reads stdout only
        readable, _, _ = select.select([ready_read], [], [], 60)
        assert readable, "the gateway did not report ready within 60 s"
        report = json.loads(os.read(ready_read, 4096))
        use(report["ports"])
    finally:
        os.close(ready_read)
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=30)
    assert child.returncode == 0
    return {name.partition(".")[0] for name in json.loads(out)}


def test_a_grpc_only_gateway_imports_no_web_stack_and_no_document_library(appender: ExecutorNode) -> None:
    def post(ports: dict[str, int]) -> None:
        with Client(host="127.0.0.1", port=ports["grpc"]) as client:
            assert client.post("/", TextDoc(text="hi"), return_type=DocList[TextDoc]).text == ["hi[appender]"]

    packages = _gateway_packages(appender, ("grpc",), post)
    assert {"grpc", "uvloop"} <= packages
    assert packages & (WEB_STACK | DOCUMENT_STACK) == set()


def test_an_http_gateway_loads_graphql_on_its_first_graphql_request(appender: ExecutorNode) -> None:
    def post(ports: dict[str, int]) -> None:
        with Client(host="127.0.0.1", port=ports["http"], protocol="http") as client:
            assert client.post("/", TextDoc(text="hi"), return_type=DocList[TextDoc]).text == ["hi[appender]"]

    def query(ports: dict[str, int]) -> None:
        post(ports)
        reply = httpx.post(f"http://127.0.0.1:{ports['http']}/graphql", json={"query": "{ endpoints }"}, timeout=30)
        assert reply.status_code == 200
        assert "/default" in reply.json()["data"]["endpoints"]

    without = _gateway_packages(appender, ("http",), post)
    assert {"starlette", "uvicorn", "docarray"} <= without
    assert without & GRAPHQL_STACK == set()
    with_graphql = _gateway_packages(appender, ("http",), query)
    assert with_graphql >= GRAPHQL_STACK
