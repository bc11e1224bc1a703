"""The HTTP/JSON transport of a gateway serving gRPC and HTTP side by side (real processes)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from executors import Appender, ConcurrencyProbe, Embedder, Faulty, Grower, Searcher, Strict

from docwire import Client, DocList, Flow
from docwire_client import Document


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    with (
        Flow(host="127.0.0.1", protocol=["grpc", "http"], port=[0, 0])
        .add(uses=Appender, name="first")
        .add(uses=Embedder, name="embedder") as started
    ):
        yield started


#: The message size limit of the ``broken`` Flow.
LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def broken() -> Iterator[Flow]:
    """Schema checks first, then an executor that raises, one that sleeps on request, one that grows texts, one
    with typed parameters; messages up to ``LIMIT``."""
    with (
        Flow(host="127.0.0.1", protocol=["http", "grpc"], max_message_size=LIMIT)
        .add(uses=Strict, name="strict")
        .add(uses=Faulty, name="faulty")
        .add(uses=ConcurrencyProbe, name="probe")
        .add(uses=Grower, name="grower")
        .add(uses=Searcher, name="searcher") as started
    ):
        yield started


def _url(flow: Flow, path: str) -> str:
    return f"http://127.0.0.1:{flow.ports['http']}{path}"


def _post(flow: Flow, path: str, body: Any) -> httpx.Response:
    return httpx.post(_url(flow, path), json=body, timeout=30)


def test_both_protocols_have_their_own_port(flow: Flow) -> None:
    assert set(flow.ports) == {"grpc", "http"}
    assert flow.port == flow.ports["grpc"] != flow.ports["http"]
    with Client(host="127.0.0.1", port=flow.port) as client:
        docs = client.post("/embed", [Document(text="abc")], return_type=DocList[Document])
    assert docs[0].text == "abc[first]"


def test_http_first_makes_http_the_main_port(broken: Flow) -> None:
    assert broken.protocol == "http"
    assert broken.port == broken.ports["http"]


def test_post_with_exec_endpoint_returns_plain_documents(flow: Flow) -> None:
    reply = _post(flow, "/post", {"data": [{"text": "hello"}, {"text": "hi"}], "execEndpoint": "/embed"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [d["text"] for d in body["data"]] == ["hello[first]", "hi[first]"]
    assert body["data"][0]["embedding"] == [12.0, 0.0, 1.0, 2.0]
    assert body["header"]["execEndpoint"] == "/embed"
    assert [r["executor"] for r in body["routes"]] == ["gateway", "first", "embedder"]


def test_endpoint_in_the_path_with_parameters_and_results(flow: Flow) -> None:
    reply = _post(flow, "/embed", {"data": [{"text": "abc"}], "parameters": {"limit": 3}})
    body = reply.json()
    assert reply.status_code == 200, reply.text
    assert body["data"][0]["embedding"] == [10.0, 0.0, 1.0, 2.0]  # len("abc[first]")
    assert body["parameters"]["limit"] == 3
    assert body["parameters"]["__results__"]["first/rep-0"]["parameters"] == {"limit": 3}


def test_target_executor_and_snake_case_keys(flow: Flow) -> None:
    reply = _post(flow, "/post", {"data": [{"text": "x"}], "exec_endpoint": "/embed", "target_executor": "embed.*"})
    body = reply.json()
    assert body["data"][0]["text"] == "x"
    assert [r["executor"] for r in body["routes"]] == ["gateway", "embedder"]


def test_given_id_is_kept(flow: Flow) -> None:
    reply = _post(flow, "/post", {"data": [{"text": "t", "id": "fixed"}]})
    assert reply.status_code == 200
    assert reply.json()["data"] == [{"id": "fixed", "text": "t[first]"}]


def test_dry_run_status_liveness_and_endpoints(flow: Flow) -> None:
    assert httpx.get(_url(flow, "/dry_run")).json()["code"] == 0
    assert httpx.get(_url(flow, "/status")).json()["versions"]["protocol"] == "docwire.v1"
    live = httpx.get(_url(flow, "/"))
    assert (live.status_code, live.json()) == (200, {})
    assert httpx.get(_url(flow, "/endpoints")).json()["endpoints"] == ["/default", "/embed"]


def test_openapi_describes_every_endpoint_with_its_schemas(flow: Flow) -> None:
    spec = httpx.get(_url(flow, "/openapi.json")).json()
    assert spec["openapi"].startswith("3.0")
    assert {"/post", "/embed", "/default", "/dry_run", "/status", "/endpoints", "/"} <= set(spec["paths"])
    embed = spec["paths"]["/embed"]["post"]
    reply = embed["responses"]["200"]["content"]["application/json"]["schema"]
    ref = reply["properties"]["data"]["items"]["$ref"].rsplit("/", 1)[1]
    output = spec["components"]["schemas"][ref]
    assert output["title"] == "EmbeddedDoc"
    assert output["properties"]["embedding"]["type"] == "array"
    assert "ID of the BaseDoc" in output["properties"]["id"]["description"]
    assert "anyOf" not in json.dumps(output["properties"]["id"])  # 3.0: nullable, not a union with null


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_pages_serve_their_assets_locally(flow: Flow, page: str) -> None:
    html = httpx.get(_url(flow, page))
    assert html.status_code == 200
    assert "text/html" in html.headers["content-type"]
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', html.text)
    assert any(a.endswith(".js") for a in assets)
    assert "http" not in "".join(assets)  # no CDN
    for asset in assets:
        fetched = httpx.get(_url(flow, asset))
        assert fetched.status_code == 200
        assert len(fetched.content) > 1000


def test_malformed_json_is_400_with_the_position(flow: Flow) -> None:
    reply = httpx.post(_url(flow, "/post"), content=b'{"data": [}', headers={"content-type": "application/json"})
    assert reply.status_code == 400
    assert "line 1 column 11" in reply.json()["message"]


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/post", _nested(100_000), id="a-body-100000-deep"),
        pytest.param("/post", '{"data": [{"text": "a", "tags": {"x": ' + _nested(900) + "}}]}", id="tags-900-deep"),
        pytest.param(
            "/graphql", '{"query": "{ __typename }", "variables": {"x": ' + _nested(100_000) + "}}", id="graphql"
        ),
    ],
)
def test_values_nested_too_deep_are_a_400_and_the_gateway_serves_on(flow: Flow, path: str, body: str) -> None:
    """The JSON parser and the converters recurse per level: past Python's recursion limit they raised
    RecursionError, a 500 with a traceback in the log (and, over WebSocket, the end of the session)."""
    reply = httpx.post(_url(flow, path), content=body, headers={"content-type": "application/json"}, timeout=30)
    assert reply.status_code == 400, reply.text
    assert "nest deeper than docwire reads them" in reply.json()["message"]
    assert _post(flow, "/post", {"data": [{"text": "still"}]}).json()["data"][0]["text"] == "still[first]"


@pytest.mark.parametrize(
    ("verb", "path"),
    [("GET", "/metrics"), ("POST", "/nope/deeper"), ("DELETE", "/nowhere"), ("GET", "/stream/nope"), ("POST", "/")],
)
def test_unknown_path_is_404_naming_it_and_the_endpoints(flow: Flow, verb: str, path: str) -> None:
    """The Flow has a default endpoint (Appender's bare ``@requests``): it serves ``/default`` and what is sent
    to ``/post``, but no path it was not discovered under."""
    reply = httpx.request(verb, _url(flow, path), json={"data": [{"text": "x"}]}, timeout=30)
    assert reply.status_code == 404, reply.text
    body = reply.json()
    assert (body["error"], body["status"]) == ("EndpointNotFound", "NOT_FOUND")
    assert body["message"] == f"no route {verb} {path}; endpoints: /default, /embed"
    assert body["endpoints"] == ["/default", "/embed"]


def test_discovered_endpoints_and_post_still_take_any_endpoint(flow: Flow) -> None:
    default = _post(flow, "/default", {"data": [{"text": "d"}]})
    assert default.status_code == 200, default.text
    assert (default.json()["header"]["execEndpoint"], default.json()["data"][0]["text"]) == ("/default", "d[first]")
    # /post keeps gRPC's rule: the default endpoint serves every endpoint name nothing else binds.
    anything = _post(flow, "/post", {"data": [{"text": "p"}], "execEndpoint": "/metrics"})
    assert anything.status_code == 200, anything.text
    assert anything.json()["data"][0]["text"] == "p[first]"
    streamed = httpx.get(_url(flow, "/embed"), params={"text": "s"}, timeout=30)
    assert streamed.status_code == 200, streamed.text
    assert "s[first]" not in streamed.text  # StreamDoc goes to the one executor binding /embed by name
    assert '"text":"s"' in streamed.text


@pytest.mark.parametrize(
    ("verb", "path", "allowed"),
    [
        ("DELETE", "/embed", "GET, POST"),
        ("POST", "/dry_run", "GET"),
        ("OPTIONS", "/post", "POST"),
        ("PUT", "/status", "GET"),
    ],
)
def test_wrong_verb_on_a_route_is_405_naming_the_verbs_it_takes(flow: Flow, verb: str, path: str, allowed: str) -> None:
    reply = httpx.request(verb, _url(flow, path), timeout=30)
    assert reply.status_code == 405, reply.text
    assert reply.headers["allow"] == allowed
    body = reply.json()
    assert (body["error"], body["status"]) == ("MethodNotAllowed", "NOT_FOUND")
    assert body["message"] == f"no route {verb} {path}; use {allowed.replace(', ', ' or ')}"


def test_unknown_endpoint_is_404_listing_the_endpoints(broken: Flow) -> None:
    reply = _post(broken, "/nowhere", {"data": [], "targetExecutor": "faulty"})
    assert reply.status_code == 404
    body = reply.json()
    assert body["error"] == "EndpointNotFound"
    assert "/fail" in body["endpoints"]


@pytest.mark.parametrize(("data", "kind"), [("abc", "str"), (3, "int")])
def test_data_that_is_not_documents_is_422_naming_what_it_is(flow: Flow, data: object, kind: str) -> None:
    reply = _post(flow, "/post", {"data": data})
    assert reply.status_code == 422, reply.text
    assert reply.json()["message"] == f"data must be a list of documents (JSON objects), or one, not {kind}"


def test_documents_not_fitting_the_schema_are_422_naming_the_field(broken: Flow) -> None:
    reply = _post(broken, "/strict", {"data": [{"text": "a", "count": 1}, {"text": "b"}]})
    assert reply.status_code == 422
    assert "data[1].count" in reply.json()["message"]
    good = _post(broken, "/strict", {"data": [{"text": "a", "count": "1"}], "targetExecutor": "strict"})
    assert good.json()["data"][0]["count"] == 2


@pytest.mark.parametrize(
    ("verb", "path", "body"),
    [
        ("GET", "/stream/fail?tensor=338970577", None),  # the OpenAPI fuzzing's find: 2.7 GB uninitialised
        ("POST", "/fail", {"data": [{"embedding": 5}]}),
        ("POST", "/fail", {"data": [{"chunks": [{"tensor": "99999999999"}]}]}),
    ],
)
def test_a_bare_number_for_a_tensor_is_422_not_an_allocation(
    broken: Flow, verb: str, path: str, body: dict[str, Any] | None
) -> None:
    # docarray reads a bare number as the shape of an uninitialised array: refused at the edge, naming the field.
    reply = httpx.request(verb, _url(broken, path), json=body, timeout=30)
    assert reply.status_code == 422, reply.text
    assert "a tensor takes a JSON array" in reply.json()["message"]
    ok = _post(broken, "/ok", {"data": [{"text": "a"}], "targetExecutor": "faulty"})
    assert ok.status_code == 200, ok.text


def test_parameters_not_fitting_their_model_are_422_naming_the_field(broken: Flow) -> None:
    reply = _post(broken, "/search", {"data": [{"text": "q"}], "parameters": {"limit": "ten"}})
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert (body["error"], body["status"]) == ("ParametersSchemaError", "INVALID_ARGUMENT")
    assert body["message"].endswith(
        "the parameters do not fit SearchParams of endpoint '/search': "
        "parameters.limit: Input should be a valid integer, unable to parse string as an integer (got 'ten')"
    )
    good = _post(broken, "/search", {"data": [{"text": "q"}], "parameters": {"limit": 5}})
    assert good.json()["data"][0]["text"] == "q limit=5 mode=exact"


def test_stream_parameters_not_fitting_their_model_are_422(broken: Flow) -> None:
    reply = httpx.get(_url(broken, "/suggest"), params={"text": "s", "parameters.limit": "ten"}, timeout=30)
    assert reply.status_code == 422, reply.text
    assert "parameters.limit: Input should be a valid integer" in reply.json()["message"]
    good = httpx.get(_url(broken, "/suggest"), params={"text": "s", "parameters.limit": "1"}, timeout=30)
    assert good.status_code == 200
    assert '"text":"s 0"' in good.text


def test_executor_error_is_500_with_the_exception(broken: Flow) -> None:
    reply = _post(broken, "/fail", {"data": [{"text": "a"}]})
    assert reply.status_code == 500
    status = reply.json()["header"]["status"]
    assert status["code"] == 1
    assert status["exception"]["name"] == "NotImplementedError"
    assert status["exception"]["args"] == ["no time for it"]
    assert status["exception"]["executor"] == "faulty"
    assert any("raise NotImplementedError" in line for line in status["exception"]["stacks"])


def test_deadline_is_504(broken: Flow) -> None:
    reply = _post(broken, "/post", {"data": [], "execEndpoint": "/x", "timeout": 100, "parameters": {"sleep": 2}})
    assert reply.status_code == 504, reply.text
    assert reply.json()["error"] == "RequestTimeout"


def test_unavailable_executor_is_503() -> None:
    with Flow(host="127.0.0.1", protocol="http").add(uses=Faulty, name="faulty") as started:
        _post(started, "/die", {"data": []})  # the replica exits while answering
        reply = _post(started, "/ok", {"data": [{"text": "a"}]})
    assert reply.status_code == 503, reply.text
    assert reply.json()["status"] == "UNAVAILABLE"


def test_a_body_over_the_limit_is_413_naming_it(broken: Flow) -> None:
    """Refused before it is parsed, whether its length is declared or not, and read to its end so that the
    client (which writes its whole body first) gets the answer; the connection then goes on."""
    body = json.dumps({"data": [{"text": "x" * 2 * LIMIT}]}).encode()
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    with httpx.Client(timeout=30) as client:
        declared = client.post(_url(broken, "/post"), content=body, headers={"content-type": "application/json"})
        chunked = client.post(_url(broken, "/post"), content=chunks, headers={"content-type": "application/json"})
        after = client.post(_url(broken, "/ok"), json={"data": [{"text": "a"}], "targetExecutor": "faulty"})
    assert declared.status_code == 413, declared.text
    assert declared.json() == {
        "code": 8,
        "status": "RESOURCE_EXHAUSTED",
        "error": "MessageTooLarge",
        "message": f"the request body is {len(body)} bytes, over the limit of {LIMIT} bytes "
        "(the Flow's max_message_size)",
    }
    assert chunked.status_code == 413, chunked.text
    assert (
        chunked.json()["message"]
        == f"the request body is over the limit of {LIMIT} bytes (the Flow's max_message_size)"
    )
    assert after.json()["data"][0]["text"] == "ok"


def test_a_reply_over_the_limit_is_413(broken: Flow) -> None:
    reply = _post(broken, "/grow", {"data": [{"text": str(2 * LIMIT)}], "targetExecutor": "grower"})
    assert reply.status_code == 413, reply.text
    assert reply.json()["error"] == "MessageTooLarge"
    assert re.fullmatch(
        rf"executor 'grower' at [\d.:]+: Sent message larger than max \(\d+ vs\. {LIMIT}\)", reply.json()["message"]
    )
