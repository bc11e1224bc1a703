"""The contract as a generic gRPC client sees it: grpcurl, reflection and proto3 JSON, no docwire code."""

from __future__ import annotations

import base64
from importlib import metadata
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf.descriptor import Descriptor

from docwire_contract.v1 import document_pb2, request_pb2

from .support import (
    EXECUTOR_SERVICE,
    GATEWAY_SERVICE,
    HEALTH_SERVICE,
    REFLECTION_SERVICE,
    WORKERS,
    Message,
    call,
    describe,
    field_numbers,
    grpcurl_text,
)

POST = f"{GATEWAY_SERVICE}/Post"
STREAM = f"{GATEWAY_SERVICE}/Stream"
STREAM_DOC = f"{GATEWAY_SERVICE}/StreamDoc"

#: Each executor's own endpoints (Appender binds only the default one).
WORKER_ENDPOINTS = {"first": ["/default"], "embedder": ["/embed"], "streamer": ["/hello"]}


def text_request(request_id: str, endpoint: str, *texts: str) -> Message:
    """A DataRequest in proto3 JSON carrying structured text documents."""
    docs = [{"data": {"text": {"text": text}}} for text in texts]
    return {
        "header": {"requestId": request_id, "execEndpoint": endpoint},
        "data": {"docs": {"docs": docs}},
    }


def texts_of(reply: Message) -> list[str]:
    """The ``text`` field of every document in a DataRequest reply."""
    return [doc["data"]["text"]["text"] for doc in reply["data"]["docs"]["docs"]]


def route_names(reply: Message) -> list[str]:
    """The executor named by each route of a reply, in order."""
    return [route["executor"] for route in reply["routes"]]


def embedding_of(doc: Message) -> np.ndarray[Any, Any]:
    """A document's ``embedding`` field decoded from its DenseNdArray JSON."""
    dense = doc["data"]["embedding"]["ndarray"]["dense"]
    array = np.frombuffer(base64.b64decode(dense["buffer"]), dtype=np.dtype(dense["dtype"]))
    return array.reshape(dense["shape"])


# -- reflection on the gateway ---------------------------------------------------------------------------------------


#: Jina's gRPC services (proto/jina), served beside docwire's so that jina.Client works unchanged.
JINA_SERVICES = [
    "jina.JinaDataRequestRPC",
    "jina.JinaDiscoverEndpointsRPC",
    "jina.JinaGatewayDryRunRPC",
    "jina.JinaInfoRPC",
    "jina.JinaRPC",
    "jina.JinaSingleDataRequestRPC",
    "jina.JinaSingleDocumentRequestRPC",
]


def test_gateway_lists_its_services_through_reflection(gateway: str) -> None:
    services = grpcurl_text(gateway, "list").split()
    assert sorted(services) == sorted([GATEWAY_SERVICE, *JINA_SERVICES, HEALTH_SERVICE, REFLECTION_SERVICE])


def test_jina_method_paths_are_described_with_docwire_messages(gateway: str) -> None:
    described = grpcurl_text(gateway, "describe", "jina.JinaRPC")
    assert "rpc Call ( stream .docwire.v1.DataRequest ) returns ( stream .docwire.v1.DataRequest );" in described
    methods = grpcurl_text(gateway, "list", "jina.JinaInfoRPC").split()
    assert methods == ["jina.JinaInfoRPC._status"]


def test_gateway_service_lists_its_six_methods(gateway: str) -> None:
    methods = grpcurl_text(gateway, "list", GATEWAY_SERVICE).split()
    names = ["Post", "Stream", "StreamDoc", "DryRun", "Status", "Endpoints"]
    assert sorted(methods) == sorted(f"{GATEWAY_SERVICE}.{name}" for name in names)


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        ("DataRequest", {"header": 1, "parameters": 2, "routes": 3, "data": 4}),
        ("Header", {"request_id": 1, "status": 2, "exec_endpoint": 3, "target_executor": 4, "timeout": 5}),
        ("DataContent", {"docs": 1, "docs_bytes": 2}),
        ("Doc", {"data": 1}),
        ("Node", {"text": 1, "integer": 2, "float": 3, "blob": 5, "ndarray": 6, "doc": 7, "dict": 12, "type": 13}),
        ("DenseNdArray", {"buffer": 1, "shape": 2, "dtype": 3}),
        ("Status", {"code": 1, "description": 2, "exception": 3, "CODE_SUCCESS": 0, "CODE_ERROR": 1}),
        ("EndpointsInfo", {"endpoints": 1, "write_endpoints": 2, "schemas": 3}),
        ("SingleDocumentRequest", {"header": 1, "parameters": 2, "routes": 3, "document": 4}),
    ],
)
def test_gateway_describes_messages_with_their_field_numbers(
    gateway: str, message: str, fields: dict[str, int]
) -> None:
    description = describe(gateway, f"docwire.v1.{message}")
    assert description.startswith(f"docwire.v1.{message} is a message:"), description
    numbers = field_numbers(description)
    assert {name: numbers.get(name) for name in fields} == fields, description


def test_gateway_describes_field_types(gateway: str) -> None:
    assert ".docwire.v1.DataContent data = 4;" in describe(gateway, "docwire.v1.DataRequest")
    assert "map<string, .docwire.v1.Node> data = 1;" in describe(gateway, "docwire.v1.Doc")
    assert "oneof content {" in describe(gateway, "docwire.v1.Node")
    service = describe(gateway, GATEWAY_SERVICE)
    assert "rpc Stream ( stream .docwire.v1.DataRequest ) returns ( stream .docwire.v1.DataRequest );" in service
    assert "rpc DryRun ( .google.protobuf.Empty ) returns ( .docwire.v1.Status )" in service


# -- reflection and calls on every executor replica ------------------------------------------------------------------


@pytest.mark.parametrize("worker", WORKERS)
def test_every_worker_serves_the_executor_service_with_reflection(workers: dict[str, str], worker: str) -> None:
    address = workers[worker]
    assert sorted(grpcurl_text(address, "list").split()) == sorted(
        [EXECUTOR_SERVICE, HEALTH_SERVICE, REFLECTION_SERVICE]
    )
    methods = grpcurl_text(address, "list", EXECUTOR_SERVICE).split()
    names = ("Endpoints", "Process", "ProcessStream", "StreamDoc")
    assert sorted(methods) == [f"{EXECUTOR_SERVICE}.{name}" for name in names]
    service = describe(address, EXECUTOR_SERVICE)
    assert "rpc Process ( .docwire.v1.DataRequest ) returns ( .docwire.v1.DataRequest );" in service
    assert field_numbers(describe(address, "docwire.v1.DataRequest"))["data"] == 4


@pytest.mark.parametrize("worker", WORKERS)
def test_every_worker_lists_its_own_endpoints(workers: dict[str, str], worker: str) -> None:
    info = call(workers[worker], f"{EXECUTOR_SERVICE}/Endpoints").one()
    expected = WORKER_ENDPOINTS[worker.split("/")[0]]
    assert info["endpoints"] == expected
    assert sorted(info["schemas"]) == expected


def test_a_worker_streams_its_generator_endpoint_directly(workers: dict[str, str]) -> None:
    request = {"header": {"requestId": "w1", "execEndpoint": "/hello"}, "document": {"data": {"text": {"text": "w"}}}}
    replies = call(workers["streamer/rep-0"], f"{EXECUTOR_SERVICE}/StreamDoc", request).ok()
    assert [r["document"]["data"]["text"]["text"] for r in replies] == ["w 0", "w 1", "w 2"]
    assert {r["header"]["requestId"] for r in replies} == {"w1"}


# -- the gateway's rpcs ----------------------------------------------------------------------------------------------


def test_post_runs_the_chain_and_returns_structured_documents(gateway: str) -> None:
    request = text_request("r1", "/embed", "hello")
    request["parameters"] = {"k": "v"}
    reply = call(gateway, POST, request).one()

    assert reply["header"]["requestId"] == "r1"
    assert reply["header"].get("status", {}).get("code", "CODE_SUCCESS") == "CODE_SUCCESS"
    assert route_names(reply)[:3] == ["gateway", "first", "embedder"]
    assert "docsBytes" not in reply["data"], "a structured request must get structured documents back"
    (doc,) = reply["data"]["docs"]["docs"]
    assert doc["data"]["text"]["text"] == "hello[first]"
    dense = doc["data"]["embedding"]["ndarray"]["dense"]
    assert dense["shape"] == [4]
    assert dense["dtype"] == "<f4"
    assert embedding_of(doc).tolist() == [len("hello[first]"), 0, 1, 2]
    # The client's parameters come back, with the Appender's dict result under __results__.
    assert reply["parameters"]["k"] == "v"
    (result,) = reply["parameters"]["__results__"].values()
    assert result["parameters"] == {"k": "v"}


def test_post_routes_name_only_the_executors_that_serve_the_endpoint(gateway: str) -> None:
    reply = call(gateway, POST, text_request("r2", "/embed", "hello")).one()
    assert route_names(reply) == ["gateway", "first", "embedder"]


def test_stream_answers_every_request_once_matched_by_id(gateway: str) -> None:
    ids = [f"b{i}" for i in range(6)]
    requests = [text_request(request_id, "/embed", f"text of {request_id}") for request_id in ids]
    replies = call(gateway, STREAM, *requests).ok()

    by_id = {reply["header"]["requestId"]: reply for reply in replies}
    assert sorted(reply["header"]["requestId"] for reply in replies) == sorted(ids)
    for request_id, reply in by_id.items():
        assert texts_of(reply) == [f"text of {request_id}[first]"]
        assert route_names(reply)[:3] == ["gateway", "first", "embedder"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param((), {"description": "ready"}, id="defaults-omitted"),
        pytest.param(
            ("-emit-defaults",), {"code": "CODE_SUCCESS", "description": "ready", "exception": None}, id="emit-defaults"
        ),
    ],
)
def test_dry_run_succeeds(gateway: str, flags: tuple[str, ...], expected: Message) -> None:
    # proto3 JSON omits the default code CODE_SUCCESS = 0 unless asked to emit defaults.
    assert call(gateway, f"{GATEWAY_SERVICE}/DryRun", flags=flags).one() == expected


def test_status_reports_the_protocol_and_versions(gateway: str) -> None:
    versions = call(gateway, f"{GATEWAY_SERVICE}/Status").one()["versions"]
    assert versions["protocol"] == "docwire.v1"
    assert versions["docwire"] == metadata.version("docwire")
    assert versions["grpcio"] == grpc.__version__
    assert {"python", "protobuf", "docarray"} <= set(versions)


def test_endpoints_lists_the_flow_endpoints_with_schemas(gateway: str) -> None:
    info = call(gateway, f"{GATEWAY_SERVICE}/Endpoints").one()
    assert info["endpoints"] == ["/default", "/embed", "/hello"]
    schemas = info["schemas"]
    assert sorted(schemas) == ["/default", "/embed", "/hello"]
    assert schemas["/embed"]["input"]["title"] == "TextDoc"
    assert schemas["/embed"]["output"]["title"] == "EmbeddedDoc"
    assert "embedding" in schemas["/embed"]["output"]["properties"]
    assert schemas["/embed"]["is_generator"] is False
    assert schemas["/hello"]["is_generator"] is True
    assert schemas["/hello"]["is_singleton_doc"] is True


@pytest.mark.parametrize(
    ("header", "count"),
    [
        pytest.param({"targetExecutor": "streamer"}, 3, id="targeted"),
        pytest.param({"targetExecutor": "streamer"}, 5, id="targeted-count-5"),
        pytest.param({}, 3, id="untargeted"),
    ],
)
def test_stream_doc_streams_every_yielded_document(gateway: str, header: dict[str, str], count: int) -> None:
    request = {
        "header": {"requestId": "s1", "execEndpoint": "/hello", **header},
        "parameters": {"count": count},
        "document": {"data": {"text": {"text": "hi"}}},
    }
    replies = call(gateway, STREAM_DOC, request).ok()
    assert [reply["document"]["data"]["text"]["text"] for reply in replies] == [f"hi {i}" for i in range(count)]
    assert {reply["header"]["requestId"] for reply in replies} == {"s1"}


# -- errors ----------------------------------------------------------------------------------------------------------

_BAD_TENSOR = {"ndarray": {"dense": {"buffer": base64.b64encode(b"\0\0\0").decode(), "shape": [1], "dtype": "<f4"}}}


@pytest.mark.parametrize(
    ("method", "request_", "code", "fragments"),
    [
        pytest.param(
            POST,
            {"header": {"execEndpoint": "/nope", "targetExecutor": "embedder|streamer"}},
            grpc.StatusCode.NOT_FOUND,
            ["no executor serves endpoint '/nope'", "endpoints: /embed, /hello"],
            id="unknown-endpoint",
        ),
        pytest.param(
            STREAM_DOC,
            {"header": {"execEndpoint": "/nope", "targetExecutor": "streamer"}, "document": {}},
            grpc.StatusCode.NOT_FOUND,
            ["'/nope'", "endpoints: /hello"],
            id="stream-doc-unknown-endpoint",
        ),
        pytest.param(
            POST,
            {"header": {"targetExecutor": "nobody"}},
            grpc.StatusCode.NOT_FOUND,
            ["'nobody' matches no executor", "executors: first, embedder, streamer"],
            id="unknown-target",
        ),
        pytest.param(
            POST,
            {"header": {"targetExecutor": "("}},
            grpc.StatusCode.INVALID_ARGUMENT,
            ["target_executor '('", "not a valid regular expression"],
            id="bad-target-regex",
        ),
        pytest.param(
            POST,
            {"header": {"execEndpoint": "/embed"}, "data": {"docs": {"docs": [{"data": {"text": _BAD_TENSOR}}]}}},
            grpc.StatusCode.INVALID_ARGUMENT,
            ["executor 'first'", "field 'text' of TextDoc", "malformed tensor"],
            id="malformed-tensor",
        ),
        pytest.param(
            STREAM_DOC,
            {
                "header": {"execEndpoint": "/hello", "targetExecutor": "streamer"},
                "document": {"data": {"text": {"integer": 5}}},
            },
            grpc.StatusCode.INVALID_ARGUMENT,
            ["executor 'streamer'", "field 'text' of TextDoc expects text"],
            id="wrong-field-type",
        ),
        pytest.param(
            POST,
            {"header": {"execEndpoint": "/embed"}, "data": {"docsBytes": base64.b64encode(b"\xff\xff\xff").decode()}},
            grpc.StatusCode.INVALID_ARGUMENT,
            ["executor 'first'", "cannot be parsed"],
            id="corrupt-docs-bytes",
        ),
    ],
)
def test_errors_carry_a_status_code_and_a_message_to_act_on(
    gateway: str, method: str, request_: Message, code: grpc.StatusCode, fragments: list[str]
) -> None:
    result = call(gateway, method, request_)
    assert result.code == code, result.run.explain()
    for fragment in fragments:
        assert fragment in result.details, result.run.explain()


def _all_messages() -> list[Descriptor]:
    found: list[Descriptor] = []
    pending = [
        message
        for module in (document_pb2, request_pb2)
        for message in module.DESCRIPTOR.message_types_by_name.values()
    ]
    while pending:
        message = pending.pop()
        found.append(message)
        pending.extend(nested for nested in message.nested_types if not nested.GetOptions().map_entry)
    return sorted(found, key=lambda m: m.full_name)


@pytest.mark.parametrize("message", _all_messages(), ids=lambda m: m.full_name)
def test_reflection_describes_every_message_of_the_contract(gateway: str, message: Descriptor) -> None:
    description = describe(gateway, message.full_name)
    assert description.startswith(f"{message.full_name} is a message:"), description
    numbers = field_numbers(description)
    assert {f.name: numbers.get(f.name) for f in message.fields} == {f.name: f.number for f in message.fields}
