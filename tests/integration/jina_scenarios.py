"""jina.Client 3.34 against a docwire Flow: the scenarios ``test_jina_client.py`` asserts on.

Run by the jina venv's interpreter (``make jina-venv``), never by docwire's, and never imported
by docwire's tests (``jina`` is not installed there)::

    .build/jina-venv/bin/python tests/integration/jina_scenarios.py PROTOCOL PORT RESULTS.json

PROTOCOL is ``grpc``, ``http`` or ``websocket``; the Flow is ``test_jina_client.py``'s (``dawdler``,
``first``: two Appender replicas, ``embedder``, ``streamer``, ``faulty``). Every scenario of the
protocol runs, each in its own try, and RESULTS.json maps its name to what it returned (plain
JSON values) or to ``{"raised": class name, "message": ...}``. The client is used as a user
would, with no change; jina's own stubs stand in for a Jina gateway only where the client has
no method (endpoint discovery, ``_status``, ``process_data``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

os.environ.setdefault("JINA_OPTOUT_TELEMETRY", "1")  # before jina is imported: it phones home otherwise

import grpc
from docarray import BaseDoc, DocList
from docarray.documents import TextDoc
from docarray.typing import AnyTensor
from jina import Client
from jina.excepts import BadServer
from jina.proto import jina_pb2_grpc
from jina.serve.networking.connection_stub import create_async_channel_stub
from jina.serve.networking.instrumentation import _NetworkingHistograms, _NetworkingMetrics
from jina.serve.networking.utils import get_available_services
from jina.types.request.data import DataRequest

Result = Any
Scenario = Callable[[str, int], Result]
SCENARIOS: dict[str, tuple[tuple[str, ...], Scenario]] = {}
ALL = ("grpc", "http", "websocket")
SCHEMES = {"grpc": "grpc", "http": "http", "websocket": "ws"}


class EmbeddedDoc(BaseDoc):
    text: str = ""
    embedding: AnyTensor | None = None


def scenario(*protocols: str) -> Callable[[Scenario], Scenario]:
    """Registers a scenario for ``protocols`` (all three when none are named)."""

    def register(function: Scenario) -> Scenario:
        SCENARIOS[function.__name__] = (protocols or ALL, function)
        return function

    return register


def client(protocol: str, port: int, **kwargs: Any) -> Any:
    return Client(host=f"{SCHEMES[protocol]}://127.0.0.1:{port}", **kwargs)


def texts(docs: Any) -> list[str]:
    return [doc.text for doc in docs]


def jina_stubs(port: int) -> Any:
    """The stubs and channel a Jina gateway opens to an executor (no metrics)."""
    metrics = _NetworkingMetrics(None, None, None)
    return create_async_channel_stub(f"127.0.0.1:{port}", "docwire", metrics, _NetworkingHistograms())


def header_of(error: BadServer) -> Any:
    """The reply header jina's BadServer carries."""
    return error.args[0]


# ---------------------------------------------------------------- readiness


@scenario()
def is_flow_ready(protocol: str, port: int) -> Result:
    return client(protocol, port).is_flow_ready()


@scenario()
def dry_run(protocol: str, port: int) -> Result:
    return client(protocol, port).dry_run()


# ---------------------------------------------------------------- post, every input kind


@scenario()
def post_a_document(protocol: str, port: int) -> Result:
    docs = client(protocol, port).post("/embed", inputs=TextDoc(text="abc"), return_type=DocList[EmbeddedDoc])
    return {"texts": texts(docs), "embeddings": [doc.embedding.tolist() for doc in docs]}


@scenario()
def post_a_document_for_one_back(protocol: str, port: int) -> Result:
    doc = client(protocol, port).post("/embed", inputs=TextDoc(text="abc"), return_type=EmbeddedDoc)
    return {"class": type(doc).__name__, "text": doc.text, "embedding": doc.embedding.tolist()}


@scenario()
def post_a_doclist(protocol: str, port: int) -> Result:
    inputs = DocList[TextDoc]([TextDoc(id=f"d{i}", text=f"doc {i}") for i in range(3)])
    docs = client(protocol, port).post("/texts", inputs=inputs, return_type=DocList[TextDoc])
    return {"ids": sorted(str(doc.id) for doc in docs), "texts": sorted(texts(docs))}


@scenario()
def post_a_generator(protocol: str, port: int) -> Result:
    def generate() -> Iterator[TextDoc]:
        for i in range(5):
            yield TextDoc(text=f"g{i}")

    responses = client(protocol, port).post("/embed", inputs=generate, request_size=2, return_responses=True)
    return {
        "sizes": sorted(len(response.docs) for response in responses),
        "texts": sorted(text for response in responses for text in texts(response.docs)),
        "routes": [route.executor for route in responses[0].routes],
    }


@scenario()
def post_no_input(protocol: str, port: int) -> Result:
    return len(client(protocol, port).post("/embed"))


@scenario("grpc")
def post_unary(protocol: str, port: int) -> Result:
    inputs = DocList[TextDoc]([TextDoc(text=f"u{i}") for i in range(4)])
    responses = client(protocol, port).post(
        "/embed", inputs=inputs, request_size=1, stream=False, return_responses=True
    )
    return {"replies": len(responses), "texts": sorted(text for r in responses for text in texts(r.docs))}


@scenario()
def post_in_order(protocol: str, port: int) -> Result:
    """The dawdler holds the first request back; results_in_order keeps the input order anyway."""
    inputs = DocList[TextDoc]([TextDoc(text=f"ordinal-{i}") for i in range(6)])
    docs = client(protocol, port).post(
        "/order",
        inputs=inputs,
        request_size=1,
        results_in_order=True,
        prefetch=3,
        target_executor="dawdler",
        parameters={"first_lags": True, "sleep": 0.01},
        return_type=DocList[TextDoc],
    )
    return texts(docs)


@scenario()
def crud_methods(protocol: str, port: int) -> Result:
    c = client(protocol, port)
    return texts(c.index(inputs=TextDoc(text="i"), return_type=DocList[TextDoc]))


# ---------------------------------------------------------------- parameters, targets, callbacks


@scenario()
def parameters(protocol: str, port: int) -> Result:
    responses = client(protocol, port).post(
        "/embed", inputs=TextDoc(text="p"), parameters={"k": 1, "first__only": "yes"}, return_responses=True
    )
    results = responses[0].parameters["__results__"]
    return {"sent": responses[0].parameters["k"], "seen_by_first": next(iter(results.values()))["parameters"]}


@scenario()
def target_executor(protocol: str, port: int) -> Result:
    c = client(protocol, port)
    only_first = c.post("/embed", inputs=TextDoc(text="abc"), target_executor="first", return_type=DocList[EmbeddedDoc])
    only_embedder = c.post(
        "/embed", inputs=TextDoc(text="abc"), target_executor="embed.*", return_type=DocList[EmbeddedDoc]
    )
    return {
        "first": [(doc.text, doc.embedding is None) for doc in only_first],
        "embedder": [(doc.text, doc.embedding.tolist()) for doc in only_embedder],
    }


@scenario()
def callbacks(protocol: str, port: int) -> Result:
    done: list[list[str]] = []
    always: list[str] = []
    returned = client(protocol, port).post(
        "/embed",
        inputs=DocList[TextDoc]([TextDoc(text="c0"), TextDoc(text="c1")]),
        request_size=1,
        on_done=lambda response: done.append(texts(response.docs)),
        on_always=lambda response: always.append(response.header.request_id),
    )
    return {"returned": returned, "done": sorted(done), "always": len(always)}


# ---------------------------------------------------------------- errors


@scenario("grpc")
def executor_error(protocol: str, port: int) -> Result:
    try:
        client(protocol, port).post("/fail", inputs=TextDoc(text="x"))
    except BadServer as error:
        status = header_of(error).status
        return {
            "raised": "BadServer",
            "code": status.code,
            "name": status.exception.name,
            "args": list(status.exception.args),
            "executor": status.exception.executor,
        }
    return "nothing raised"


@scenario("grpc")
def executor_error_unary(protocol: str, port: int) -> Result:
    try:
        client(protocol, port).post("/fail", inputs=TextDoc(text="x"), stream=False)
    except BadServer as error:
        return {"raised": "BadServer", "name": header_of(error).status.exception.name}
    return "nothing raised"


@scenario("http")
def executor_error_over_http(protocol: str, port: int) -> Result:
    """jina's HTTP client raises ValueError with the body of any non-2xx answer (Jina's gateway answers 500)."""
    try:
        client(protocol, port).post("/fail", inputs=TextDoc(text="x"))
    except ValueError as error:
        body = error.args[0]
        return {"raised": "ValueError", "name": body["header"]["status"]["exception"]["name"]}
    return "nothing raised"


@scenario("grpc", "websocket")
def on_error_callback(protocol: str, port: int) -> Result:
    errors: list[str] = []
    client(protocol, port).post(
        "/fail",
        inputs=TextDoc(text="x"),
        on_error=lambda response: errors.append(response.header.status.exception.name),
    )
    return errors


@scenario("grpc", "websocket")
def continue_on_error(protocol: str, port: int) -> Result:
    """The failed request's documents come back as the failing executor got them (as from Jina's gateway)."""
    docs = client(protocol, port).post(
        "/fail", inputs=TextDoc(text="x"), continue_on_error=True, return_type=DocList[TextDoc]
    )
    return texts(docs)


@scenario("http")
def on_error_over_http(protocol: str, port: int) -> Result:
    """jina's HTTP client raises on a non-2xx answer before any callback (Jina's gateway answers 500 too)."""
    errors: list[str] = []
    try:
        client(protocol, port).post("/fail", inputs=TextDoc(text="x"), on_error=lambda r: errors.append("called"))
    except ValueError:
        return {"raised": "ValueError", "on_error": errors}
    return "nothing raised"


# ---------------------------------------------------------------- generator endpoints


@scenario("grpc", "http")
def stream_doc(protocol: str, port: int) -> Result:
    async def collect() -> list[str]:
        c = client(protocol, port, asyncio=True)
        return [doc.text async for doc in c.stream_doc(on="/hello", inputs=TextDoc(text="hey"), return_type=TextDoc)]

    return asyncio.run(collect())


# ---------------------------------------------------------------- what a Jina gateway asks (no client method)


@scenario("grpc")
def discovery_and_status(protocol: str, port: int) -> Result:
    """What a Jina gateway does with an external executor: reflection, endpoint discovery, _status."""

    async def ask() -> Result:
        stubs, channel = jina_stubs(port)
        async with channel:
            services = await get_available_services(channel)
            endpoints, _ = await stubs.send_discover_endpoint(timeout=10)
            info = await stubs.send_info_rpc(timeout=10)
        return {
            "services": sorted(services),
            "endpoints": list(endpoints.endpoints),
            "embed_schema": sorted(endpoints.schemas["/embed"]),
            "embed_output_fields": sorted(endpoints.schemas["/embed"]["output"]["properties"]),
            "info_keys": sorted(info.jina),
        }

    return asyncio.run(ask())


def data_request(request_id: str, text: str) -> DataRequest:
    request = DataRequest()
    request.header.exec_endpoint = "/texts"
    request.header.request_id = request_id
    request.data.docs = DocList[TextDoc]([TextDoc(text=text)])
    return request


@scenario("grpc")
def as_an_external_executor(protocol: str, port: int) -> Result:
    """What a Jina gateway sends an external executor: one request (process_single_data), a list of several
    (process_data, which docwire refuses), and process_data with a list of one, through jina's own stubs."""

    def docs_of(reply: DataRequest) -> list[str]:
        reply.document_array_cls = DocList[TextDoc]
        return texts(reply.docs)

    async def send() -> Result:
        stubs, channel = jina_stubs(port)
        async with channel:
            single, _ = await stubs.send_requests([data_request("one", "a")], metadata=None, compression=None)
            try:
                await stubs.send_requests(
                    [data_request("two", "b"), data_request("two", "c")], metadata=None, compression=None
                )
                several = "nothing raised"
            except grpc.aio.AioRpcError as error:
                several = error.code().name
            listed = await jina_pb2_grpc.JinaDataRequestRPCStub(channel).process_data(
                [data_request("list", "d")], timeout=10
            )
        return {
            "single": [single.header.request_id, docs_of(single)],
            "several": several,
            "list_of_one": [listed.header.request_id, docs_of(listed)],
        }

    return asyncio.run(send())


def main(argv: list[str]) -> None:
    protocol, port, out = argv[0], int(argv[1]), argv[2]
    results: dict[str, Result] = {}
    for name, (protocols, function) in SCENARIOS.items():
        if protocol not in protocols:
            continue
        try:
            results[name] = function(protocol, port)
        except Exception as exc:  # noqa: BLE001 - recorded for the test to show, whatever it is
            results[name] = {"raised": type(exc).__name__, "message": str(exc)[:2000], "trace": traceback.format_exc()}
    with open(out, "w") as file:  # noqa: PTH123 - the jina venv's script stays plain
        json.dump(results, file, default=repr)


if __name__ == "__main__":
    main(sys.argv[1:])
