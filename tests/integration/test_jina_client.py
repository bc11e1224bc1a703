"""The real jina.Client (3.34.0, from PyPI) against a docwire Flow, unchanged, over gRPC, HTTP and WebSocket.

The client runs in its own venv (``make jina-venv``, part of ``make install``: jina pins protobuf 5
and grpcio 1.68 beside ours), driven by ``jina_scenarios.py``: one run per protocol against the
module's Flow, each scenario's outcome written to a JSON file that the tests below read. A missing
venv fails every test, naming the command that builds it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from executors import Appender, Dawdler, Embedder, Faulty, Streamer

from docwire import Flow

REPO_ROOT = Path(__file__).resolve().parents[2]
JINA_VENV = REPO_ROOT / ".build" / "jina-venv"
JINA_PYTHON = JINA_VENV / "bin" / "python"
SCENARIOS = Path(__file__).resolve().parent / "jina_scenarios.py"
PROTOCOLS = ("grpc", "http", "websocket")
#: Seconds one protocol's scenarios may take together (about 10 on a 2-core machine).
RUN_TIMEOUT = 240.0


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    """``dawdler`` (two replicas, every endpoint; holds back the request holding "ordinal-0" when asked; first,
    as it keeps only texts), ``first`` (two Appender replicas), ``embedder`` (/embed), ``streamer`` (/hello),
    ``faulty`` (/fail), on every protocol."""
    built = (
        Flow(host="127.0.0.1", protocol=list(PROTOCOLS), port=[0, 0, 0])
        .add(uses=Dawdler, name="dawdler", replicas=2)
        .add(uses=Appender, name="first", replicas=2)
        .add(uses=Embedder, name="embedder")
        .add(uses=Streamer, name="streamer")
        .add(uses=Faulty, name="faulty")
    )
    with built:
        yield built


def _jina_python() -> Path:
    if not (JINA_VENV / ".installed").is_file() or not JINA_PYTHON.is_file():
        pytest.fail(
            f"jina's client is not installed in {JINA_VENV}: run `make jina-venv` (part of `make install`)",
            pytrace=False,
        )
    return JINA_PYTHON


@pytest.fixture(scope="module")
def outcomes(flow: Flow, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every scenario's outcome, by protocol then scenario name (a protocol whose run failed has none)."""
    python = _jina_python()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"JINA_OPTOUT_TELEMETRY": "1", "HOME": str(tmp_path_factory.mktemp("jina-home"))}
    found: dict[str, dict[str, Any]] = {}
    for protocol in PROTOCOLS:
        out = tmp_path_factory.mktemp(protocol) / "results.json"
        args = [str(python), str(SCENARIOS), protocol, str(flow.ports[protocol]), str(out)]
        done = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False, stdin=subprocess.DEVNULL
        )
        assert done.returncode == 0, f"$ {' '.join(args)}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
        found[protocol] = json.loads(out.read_text())
    return found


def outcome(outcomes: dict[str, dict[str, Any]], protocol: str, name: str) -> Any:
    """One scenario's result; a scenario that raised unexpectedly fails with its traceback."""
    result = outcomes[protocol][name]
    if isinstance(result, dict) and "trace" in result:
        pytest.fail(f"{name} over {protocol} raised {result['raised']}:\n{result['trace']}", pytrace=False)
    return result


every_protocol = pytest.mark.parametrize("protocol", PROTOCOLS)


@every_protocol
def test_is_flow_ready_and_dry_run(outcomes: dict[str, dict[str, Any]], protocol: str) -> None:
    assert outcome(outcomes, protocol, "is_flow_ready") is True
    assert outcome(outcomes, protocol, "dry_run") is True


@every_protocol
def test_post_a_document(outcomes: dict[str, dict[str, Any]], protocol: str) -> None:
    assert outcome(outcomes, protocol, "post_a_document") == {
        "texts": ["abc[first]"],
        "embeddings": [[10.0, 0.0, 1.0, 2.0]],
    }


@every_protocol
def test_post_with_a_document_class_returns_the_lone_document(
    outcomes: dict[str, dict[str, Any]], protocol: str
) -> None:
    assert outcome(outcomes, protocol, "post_a_document_for_one_back") == {
        "class": "EmbeddedDoc",
        "text": "abc[first]",
        "embedding": [10.0, 0.0, 1.0, 2.0],
    }


@every_protocol
def test_post_a_doclist_keeps_the_ids(outcomes: dict[str, dict[str, Any]], protocol: str) -> None:
    assert outcome(outcomes, protocol, "post_a_doclist") == {
        "ids": ["d0", "d1", "d2"],
        "texts": ["doc 0[first]", "doc 1[first]", "doc 2[first]"],
    }


@every_protocol
def test_post_a_generator_in_requests_of_request_size(outcomes: dict[str, dict[str, Any]], protocol: str) -> None:
    result = outcome(outcomes, protocol, "post_a_generator")
    assert result["sizes"] == [1, 2, 2]
    assert result["texts"] == [f"g{i}[first]" for i in range(5)]
    # return_responses: the gateway's route first, then each executor that ran
    assert result["routes"] == ["gateway", "dawdler", "first", "embedder"]


@every_protocol
def test_post_with_no_input(outcomes: dict[str, dict[str, Any]], protocol: str) -> None:
    assert outcome(outcomes, protocol, "post_no_input") == 0


def test_post_unary_calls_over_grpc(outcomes: dict[str, dict[str, Any]]) -> None:
    assert outcome(outcomes, "grpc", "post_unary") == {
        "replies": 4,
        "texts": [f"u{i}[first]" for i in range(4)],
    }


@every_protocol
def test_results_in_order(outcomes: dict[str, dict[str, Any]], protocol: str) -> None:
    # over gRPC the gateway orders a Call's replies (jina sends __results_in_order__); HTTP and
    # WebSocket are ordered by jina's client itself
    assert outcome(outcomes, protocol, "post_in_order") == [f"ordinal-{i}" for i in range(6)]


@every_protocol
def test_crud_methods(outcomes: dict[str, dict[str, Any]], protocol: str) -> None:
    assert outcome(outcomes, protocol, "crud_methods") == ["i[first]"]


@every_protocol
def test_parameters_reach_the_executors_scoped_and_results_come_back(
    outcomes: dict[str, dict[str, Any]], protocol: str
) -> None:
    assert outcome(outcomes, protocol, "parameters") == {"sent": 1.0, "seen_by_first": {"k": 1.0, "only": "yes"}}


@every_protocol
def test_target_executor(outcomes: dict[str, dict[str, Any]], protocol: str) -> None:
    assert outcome(outcomes, protocol, "target_executor") == {
        "first": [["abc[first]", True]],
        "embedder": [["abc", [3.0, 0.0, 1.0, 2.0]]],
    }


@every_protocol
def test_callbacks(outcomes: dict[str, dict[str, Any]], protocol: str) -> None:
    assert outcome(outcomes, protocol, "callbacks") == {
        "returned": None,
        "done": [["c0[first]"], ["c1[first]"]],
        "always": 2,
    }


def test_an_executor_error_raises_bad_server_with_the_exception(outcomes: dict[str, dict[str, Any]]) -> None:
    # over WebSocket jina's client raises it too, unless the socket's close (which follows the last reply)
    # ends its receiving task first: jina then drops the exception (clients/base/websocket.py, whatever the
    # server); on_error below is how to see it there
    assert outcome(outcomes, "grpc", "executor_error") == {
        "raised": "BadServer",
        "code": 1,
        "name": "NotImplementedError",
        "args": ["no time for it"],
        "executor": "faulty",
    }


def test_an_executor_error_on_a_unary_call_raises_bad_server(outcomes: dict[str, dict[str, Any]]) -> None:
    assert outcome(outcomes, "grpc", "executor_error_unary") == {"raised": "BadServer", "name": "NotImplementedError"}


def test_an_executor_error_over_http_raises_value_error_with_the_body(outcomes: dict[str, dict[str, Any]]) -> None:
    assert outcome(outcomes, "http", "executor_error_over_http") == {
        "raised": "ValueError",
        "name": "NotImplementedError",
    }


@pytest.mark.parametrize("protocol", ["grpc", "websocket"])
def test_on_error_and_continue_on_error(outcomes: dict[str, dict[str, Any]], protocol: str) -> None:
    assert outcome(outcomes, protocol, "on_error_callback") == ["NotImplementedError"]
    assert outcome(outcomes, protocol, "continue_on_error") == ["x[first]"]


def test_over_http_an_error_raises_before_the_callbacks(outcomes: dict[str, dict[str, Any]]) -> None:
    assert outcome(outcomes, "http", "on_error_over_http") == {"raised": "ValueError", "on_error": []}


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_stream_doc(outcomes: dict[str, dict[str, Any]], protocol: str) -> None:
    # jina's WebSocket client has no stream_doc
    assert outcome(outcomes, protocol, "stream_doc") == ["hey 0", "hey 1", "hey 2"]


def test_reflection_endpoint_discovery_and_status_as_a_jina_gateway_asks(
    outcomes: dict[str, dict[str, Any]],
) -> None:
    result = outcome(outcomes, "grpc", "discovery_and_status")
    # jina leaves out the reflection service and JinaGatewayDryRunRPC itself
    assert result["services"] == [
        "docwire.v1.GatewayService",
        "grpc.health.v1.Health",
        "jina.JinaDataRequestRPC",
        "jina.JinaDiscoverEndpointsRPC",
        "jina.JinaInfoRPC",
        "jina.JinaRPC",
        "jina.JinaSingleDataRequestRPC",
        "jina.JinaSingleDocumentRequestRPC",
    ]
    assert {"/default", "/embed", "/fail", "/hello"} <= set(result["endpoints"])
    assert result["embed_schema"] == ["input", "is_generator", "is_singleton_doc", "output", "parameters"]
    assert {"text", "embedding"} <= set(result["embed_output_fields"])
    assert {"docwire", "protocol"} <= set(result["info_keys"])


def test_a_jina_gateway_can_call_it_as_an_external_executor(outcomes: dict[str, dict[str, Any]]) -> None:
    assert outcome(outcomes, "grpc", "as_an_external_executor") == {
        "single": ["one", ["a[first]"]],
        "several": "INVALID_ARGUMENT",  # Jina's executors merge several; docwire routes one at a time
        "list_of_one": ["list", ["d[first]"]],
    }
