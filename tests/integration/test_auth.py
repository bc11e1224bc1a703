"""Token authentication on the gateway (``Flow(auth_tokens=...)``), over gRPC, HTTP and WebSocket, and
``error_details``: the token is checked before any executor runs; probes, readiness and the API pages stay open."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from executors import Faulty, Recorder, TextDoc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from docwire import Client, ExecutorError, Flow, Unauthenticated
from docwire.gateway.auth import AUTH_TOKENS_ENV
from docwire_client.inputs import RequestSpec, build_request
from docwire_contract.methods import GatewayMethods

HOST = "127.0.0.1"
TOKEN = "s3cret-token"
GOOD = {"authorization": f"Bearer {TOKEN}"}
GRPCURL = Path(__file__).resolve().parents[2] / ".build" / "bin" / "grpcurl"


@pytest.fixture(scope="module")
def guarded() -> Iterator[Flow]:
    flow = Flow(host=HOST, protocol=["grpc", "http", "websocket"], port=[0, 0, 0], auth_tokens=[TOKEN])
    with flow.add(uses=Recorder, name="recorder") as started:
        yield started


def _seen(flow: Flow) -> dict[str, float]:
    with Client(host=HOST, port=flow.ports["grpc"]) as client:
        (response,) = client.post("/seen", return_responses=True, metadata=GOOD)
    seen: dict[str, float] = response.parameters["__results__"]["recorder/rep-0"]["seen"]
    return seen


@pytest.mark.parametrize("protocol", ["grpc", "http", "websocket"])
def test_a_call_without_the_token_is_refused_before_any_executor_runs(guarded: Flow, protocol: str) -> None:
    with Client(host=HOST, port=guarded.ports[protocol], protocol=protocol) as client:
        with pytest.raises(Unauthenticated, match="requires a token"):
            client.post("/", TextDoc(text=f"no-token-{protocol}"))
        with pytest.raises(Unauthenticated, match="not accepted"):
            client.post("/", TextDoc(text=f"bad-token-{protocol}"), metadata={"authorization": "Bearer nope"})
        (doc,) = client.post("/", TextDoc(text=f"good-token-{protocol}"), metadata=GOOD)
    assert doc.text == f"good-token-{protocol}"
    seen = _seen(guarded)
    assert seen.get(f"good-token-{protocol}") == 1
    assert f"no-token-{protocol}" not in seen
    assert f"bad-token-{protocol}" not in seen


def test_http_answers_401_with_www_authenticate_and_docwires_error_body(guarded: Flow) -> None:
    base = f"http://{HOST}:{guarded.ports['http']}"
    refused = httpx.post(f"{base}/post", json={"data": [{"text": "x"}]}, timeout=30)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["error"] == "Unauthenticated"
    assert httpx.get(f"{base}/openapi.json", timeout=30).status_code == 401  # the endpoints' schemas
    assert httpx.get(f"{base}/openapi.json", headers=GOOD, timeout=30).status_code == 200
    for open_path in ("/", "/dry_run", "/status", "/docs", "/redoc"):
        assert httpx.get(f"{base}{open_path}", timeout=30).status_code == 200, open_path


def test_health_readiness_and_reflection_stay_open_on_grpc(guarded: Flow) -> None:
    with grpc.insecure_channel(f"{HOST}:{guarded.ports['grpc']}") as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    with Client(host=HOST, port=guarded.ports["grpc"]) as client:
        assert client.is_flow_ready(timeout=30)
    listed = subprocess.run(
        [str(GRPCURL), "-plaintext", f"{HOST}:{guarded.ports['grpc']}", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "docwire.v1.GatewayService" in listed.stdout, listed.stderr


def test_jinas_method_paths_are_protected_too(guarded: Flow) -> None:
    request = build_request(RequestSpec("/"), [TextDoc(text="jina")])[1]
    with grpc.insecure_channel(f"{HOST}:{guarded.ports['grpc']}") as channel:
        for path in (GatewayMethods.POST, "/jina.JinaSingleDataRequestRPC/process_single_data"):
            call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(path)
            with pytest.raises(grpc.RpcError) as refused:
                call(request, timeout=30)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, path
            assert call(request, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=30)


def test_tokens_come_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUTH_TOKENS_ENV, "from-env, another")
    with Flow(host=HOST).add(uses=Recorder, name="recorder") as flow, Client(host=HOST, port=flow.port) as client:
        with pytest.raises(Unauthenticated):
            client.post("/", TextDoc(text="x"))
        (doc,) = client.post("/", TextDoc(text="y"), metadata={"authorization": "Bearer another"})
    assert doc.text == "y"


@pytest.mark.parametrize("details", ["full", "message"])
def test_error_details_message_strips_stack_traces_and_paths(details: str) -> None:
    flow = Flow(host=HOST, error_details=details).add(uses=Faulty, name="faulty")
    with flow, Client(host=HOST, port=flow.port) as client, pytest.raises(ExecutorError) as raised:
        client.post("/fail", TextDoc(text="x"))
    error = raised.value
    assert (error.name, error.executor) == ("NotImplementedError", "faulty")
    assert "no time for it" in str(error)
    if details == "full":
        assert any("executors.py" in line for line in error.stacks)
    else:
        assert error.stacks == []
        assert "executors.py" not in str(error)


def test_error_details_is_checked() -> None:
    with pytest.raises(ValueError, match="error_details must be one of"):
        Flow(error_details="everything")
