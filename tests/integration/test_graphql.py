"""GraphQL on the gateway's HTTP port: the seeds' ``docs`` mutation against a real Flow, over httpx and the client."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from docarray.documents.legacy import LegacyDocument
from executors import Embedder, Faulty

from docwire import Client, DocList, Executor, Flow, requests
from docwire_client import Document
from docwire_client.graphql import graphql_url, mutate
from docwire_client.target import Target
from docwire_contract.errors import BadRequest, GatewayUnavailable

#: Seed 000's mutation, verbatim (less two trailing spaces).
SEED_MUTATION = """
        mutation {
            docs(data: {text: "abcd"}) {
                id
                matches {
                    embedding
                }
            }
        }
    """


class Matcher(Executor):
    """Legacy documents in and out: records in each document's tags its name (``visited``), the parameters
    it got (``parameters[<name>]``) and the ``x-caller`` header; gives a document without matches two, each
    with embedding ``[i, len(text)]`` and a 2x2 tensor of ones."""

    @requests
    def match(
        self, docs: DocList[Document], parameters: dict[str, Any], metadata: dict[str, str], **kwargs: object
    ) -> None:
        name = self.runtime_args.name
        for doc in docs:
            doc.tags.setdefault("visited", []).append(name)
            doc.tags.setdefault("parameters", {})[name] = parameters
            if "x-caller" in metadata:
                doc.tags["caller"] = metadata["x-caller"]
            if not doc.matches:
                doc.matches = DocList[LegacyDocument](
                    LegacyDocument(
                        text=f"{doc.text} match {i}",
                        embedding=np.array([i, len(doc.text or "")], dtype=np.float32),
                        tensor=np.ones((2, 2), dtype=np.float32),
                    )
                    for i in range(2)
                )


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    """Two matchers on every endpoint, an embedder on /embed, an executor raising on /fail."""
    with (
        Flow(host="127.0.0.1", protocol=["grpc", "http"], port=[0, 0])
        .add(uses=Matcher, name="first")
        .add(uses=Matcher, name="second")
        .add(uses=Embedder, name="embedder")
        .add(uses=Faulty, name="faulty") as started
    ):
        yield started


def _url(flow: Flow) -> str:
    return graphql_url(Target("127.0.0.1", flow.ports["http"], "http", False))


def _graphql(flow: Flow, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = httpx.post(_url(flow), json={"query": query, "variables": variables}, timeout=30)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _docs(body: dict[str, Any]) -> list[dict[str, Any]]:
    assert "errors" not in body, body
    docs: list[dict[str, Any]] = body["data"]["docs"]
    return docs


def _assert_serving(flow: Flow) -> None:
    """The gateway still answers a mutation after an error."""
    assert _docs(_graphql(flow, 'mutation { docs(data: {text: "again"}) { text } }')) == [{"text": "again"}]


def _assert_seed_answer(body: dict[str, Any]) -> None:
    (doc,) = _docs(body)
    assert set(doc) == {"id", "matches"}  # only the selected fields travel
    assert len(doc["id"]) == 32
    assert doc["matches"] == [{"embedding": [0.0, 4.0]}, {"embedding": [1.0, 4.0]}]  # len("abcd") == 4


def test_seed_mutation_over_plain_http(flow: Flow) -> None:
    _assert_seed_answer(_graphql(flow, SEED_MUTATION))


async def test_seed_mutation_with_the_client_function(flow: Flow) -> None:
    _assert_seed_answer(await mutate(_url(flow), SEED_MUTATION, timeout=30))


def test_only_selected_fields_come_back(flow: Flow) -> None:
    (doc,) = _docs(_graphql(flow, 'mutation { docs(data: {text: "x"}) { text matches { tensor } } }'))
    assert doc == {"text": "x", "matches": [{"tensor": [[1.0, 1.0], [1.0, 1.0]]}] * 2}


def test_a_list_of_documents_keeps_order_and_ids(flow: Flow) -> None:
    docs = _docs(
        _graphql(flow, 'mutation { docs(data: [{id: "a", text: "one"}, {id: "b", text: "two"}]) { id text } }')
    )
    assert docs == [{"id": "a", "text": "one"}, {"id": "b", "text": "two"}]


def test_no_data_sends_no_documents(flow: Flow) -> None:
    assert _docs(_graphql(flow, "mutation { docs { id } }")) == []


def test_exec_endpoint_routes_to_the_executor_serving_it(flow: Flow) -> None:
    docs = _docs(
        _graphql(flow, 'mutation { docs(data: {text: "abc"}, execEndpoint: "/embed") { text embedding tags } }')
    )
    assert docs == [{"text": "abc", "embedding": [3.0, 0.0, 1.0, 2.0], "tags": None}]  # the matchers never saw it


def test_target_executor_picks_the_executors(flow: Flow) -> None:
    query = 'mutation ($target: String) { docs(data: {text: "t"}, targetExecutor: $target) { tags } }'
    everyone = _docs(_graphql(flow, query, {"target": None}))
    second = _docs(_graphql(flow, query, {"target": "sec.*"}))
    assert everyone[0]["tags"]["visited"] == ["first", "second"]
    assert second[0]["tags"]["visited"] == ["second"]


def test_parameters_reach_the_executors_scoped_ones_only_theirs(flow: Flow) -> None:
    body = _graphql(
        flow,
        'mutation { docs(data: {text: "p"}, parameters: {top_k: 3, second__only: "me"}) { tags } }',
    )
    seen = _docs(body)[0]["tags"]["parameters"]
    assert seen == {"first": {"top_k": 3}, "second": {"top_k": 3, "only": "me"}}


def test_input_fields_reach_the_executor_and_come_back(flow: Flow) -> None:
    blob = base64.b64encode(b"\x00raw bytes\xff").decode()
    query = """
        mutation ($blob: String) {
            docs(data: {id: "given", text: "in", url: "https://example.com/a.png", blob: $blob, tags: {lang: "en"},
                        embedding: [0.5, 1.5], tensor: [[1, 2], [3, 4]], matches: [{text: "mine"}]}) {
                id text url blob embedding tensor tags matches { text embedding } field(name: "url")
            }
        }
    """
    (doc,) = _docs(_graphql(flow, query, {"blob": blob}))
    assert doc["id"] == "given"
    assert (doc["text"], doc["url"], doc["blob"]) == ("in", "https://example.com/a.png", blob)
    assert doc["field"] == doc["url"]
    assert doc["embedding"] == [0.5, 1.5]
    assert doc["tensor"] == [[1, 2], [3, 4]]
    assert doc["tags"]["lang"] == "en"
    assert doc["matches"] == [{"text": "mine", "embedding": None}]  # kept: the matchers add none when there are some


async def test_variables_and_headers_with_the_client_function(flow: Flow) -> None:
    query = """
        mutation Send($docs: [DocumentInput!], $parameters: JSON) {
            docs(data: $docs, parameters: $parameters) { text tags }
        }
    """
    body = await mutate(
        _url(flow),
        query,
        variables={"docs": [{"text": "v1"}, {"text": "v2"}], "parameters": {"k": "v"}},
        headers={"x-caller": "graphql-test"},
    )
    docs = _docs(body)
    assert [d["text"] for d in docs] == ["v1", "v2"]
    assert docs[0]["tags"]["caller"] == "graphql-test"  # headers reach executors as their metadata
    assert docs[0]["tags"]["parameters"]["first"] == {"k": "v"}


def test_an_executor_error_is_a_graphql_error(flow: Flow) -> None:
    body = _graphql(flow, 'mutation { docs(data: {text: "x"}, execEndpoint: "/fail") { text } }')
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["message"] == "NotImplementedError in executor 'faulty': NotImplementedError('no time for it')"
    assert error["path"] == ["docs"]
    extensions = error["extensions"]
    assert (extensions["error"], extensions["executor"], extensions["exception"]) == (
        "ExecutorError",
        "faulty",
        "NotImplementedError",
    )
    assert extensions["args"] == ["no time for it"]
    assert any("no time for it" in line for line in extensions["stacks"])
    _assert_serving(flow)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ('targetExecutor: "nobody"', "EndpointNotFound", "'nobody' matches no executor"),
        ('targetExecutor: "("', "BadRequest", "not a valid regular expression"),
        ('data: {text: "x", blob: "not base64!"}', "BadRequest", "data[0].blob is not base64"),
        ("parameters: [1, 2]", "BadRequest", "parameters must be a JSON object, not list"),
        ("data: {fields: 3}", "BadRequest", "data[0].fields must be a JSON object"),
    ],
)
def test_gateway_errors_are_graphql_errors(flow: Flow, arguments: str, error: str, message: str) -> None:
    body = _graphql(flow, f"mutation {{ docs({arguments}) {{ text }} }}")
    assert body["data"] is None
    (found,) = body["errors"]
    assert message in found["message"]
    assert found["extensions"]["error"] == error
    _assert_serving(flow)


def test_a_malformed_query_is_an_error_with_its_location(flow: Flow) -> None:
    query = 'mutation {\n  docs(data: {text: "x"} { text }\n}'
    (error,) = _graphql(flow, query)["errors"]
    assert error["message"] == "Syntax Error: Expected Name, found '{'."
    second_line = query.splitlines()[1]
    assert error["locations"] == [{"line": 2, "column": second_line.index("{ text") + 1}]
    _assert_serving(flow)


def test_an_unknown_field_is_an_error_naming_it(flow: Flow) -> None:
    query = 'mutation { docs(data: {text: "x"}) { text nosuch } }'
    (error,) = _graphql(flow, query)["errors"]
    assert error["message"] == "Cannot query field 'nosuch' on type 'Document'."
    assert error["locations"] == [{"line": 1, "column": query.index("nosuch") + 1}]
    _assert_serving(flow)


def test_queries_list_endpoints_and_versions(flow: Flow) -> None:
    data = _graphql(flow, "{ endpoints versions }")["data"]
    assert {"/embed", "/fail"} <= set(data["endpoints"])
    assert data["versions"]["protocol"] == "docwire.v1"
    over_get = httpx.get(_url(flow), params={"query": "{ endpoints }"}, timeout=30)
    assert over_get.json()["data"]["endpoints"] == data["endpoints"]


def test_no_graphiql_page_from_a_cdn(flow: Flow) -> None:
    page = httpx.get(_url(flow), headers={"accept": "text/html"}, timeout=30)
    assert page.status_code == 404
    assert "<script" not in page.text


async def test_client_function_raises_for_what_is_not_graphql(flow: Flow) -> None:
    with pytest.raises(BadRequest, match="answered HTTP 400: No GraphQL query found"):
        await mutate(_url(flow), "", timeout=30)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    with pytest.raises(GatewayUnavailable, match=f"127.0.0.1:{closed_port}/graphql"):
        await mutate(graphql_url(Target("127.0.0.1", closed_port, "http", False)), SEED_MUTATION, timeout=30)
    with pytest.raises(GatewayUnavailable, match="HTTP port"):
        await mutate(graphql_url(Target("127.0.0.1", flow.ports["grpc"], "grpc", False)), SEED_MUTATION, timeout=30)


async def test_client_function_reuses_an_open_connection_pool(flow: Flow) -> None:
    async with httpx.AsyncClient() as pool:
        first = await mutate(_url(flow), 'mutation { docs(data: {text: "a"}) { text } }', client=pool, timeout=30)
        second = await mutate(_url(flow), "{ endpoints }", client=pool, timeout=30)
    assert _docs(first) == [{"text": "a"}]
    assert "/embed" in second["data"]["endpoints"]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_client_mutate_seed_spelling(flow: Flow, protocol: str) -> None:
    """Seed 000's ``c = Client(port=PORT); c.mutate(mutation=mut)``, with a client of either protocol."""
    with Client(host="127.0.0.1", port=flow.ports["http"], protocol=protocol) as c:
        _assert_seed_answer(c.mutate(mutation=SEED_MUTATION))


def test_uri_travels_both_ways(flow: Flow) -> None:
    """The incumbent's curl examples send ``uri``; docwire's Document has it."""
    answer = _graphql(flow, 'mutation { docs(data: {uri: "https://example.com/a.png"}) { uri } }')
    assert answer == {"data": {"docs": [{"uri": "https://example.com/a.png"}]}}
