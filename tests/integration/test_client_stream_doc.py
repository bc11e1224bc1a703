"""Item 8: ``stream_doc`` yields each document a generator endpoint produces, sync and async, errors included."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from client_scenarios import Served, protocols, serve
from executors import Chatter, Countdown, TextDoc

from docwire import AsyncClient, Client, EndpointNotFound, ExecutorError, GatewayUnavailable


@pytest.fixture(scope="module", params=protocols())
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param, lambda flow: flow.add(uses=Countdown, name="countdown")) as served:
        yield served


def test_sync_stream_doc_yields_each_document(served: Served) -> None:
    docs = served.client().stream_doc(
        on="/countdown", inputs=TextDoc(text="go"), parameters={"count": 4}, return_type=TextDoc
    )
    assert [(type(d), d.text) for d in docs] == [(TextDoc, f"go {i}") for i in range(4)]


async def test_async_stream_doc_yields_each_document(served: Served) -> None:
    async with AsyncClient(host="127.0.0.1", port=served.port, protocol=served.protocol) as client:
        texts = [d.text async for d in client.stream_doc(on="/countdown", inputs=TextDoc(text="go"))]
    assert texts == ["go 0", "go 1", "go 2"]


def test_sync_stream_doc_can_stop_early(served: Served) -> None:
    client = served.client()
    docs = client.stream_doc(on="/countdown", inputs=TextDoc(text="go"), parameters={"count": 1000})
    assert next(docs).text == "go 0"
    docs.close()
    assert [d.text for d in client.stream_doc(on="/countdown", inputs=TextDoc(text="again"))] == [
        "again 0",
        "again 1",
        "again 2",
    ]


def test_sync_stream_doc_delivers_what_came_before_an_executor_error(served: Served) -> None:
    received: list[str] = []
    docs = served.client().stream_doc(on="/countdown", inputs=TextDoc(text="go"), parameters={"count": 2, "fail": True})
    with pytest.raises(ExecutorError, match="RuntimeError in executor 'countdown'") as caught:
        received.extend(d.text for d in docs)
    assert received == ["go 0", "go 1"]
    assert caught.value.args_ == ["countdown of 'go' broke"]


async def test_async_stream_doc_errors(served: Served) -> None:
    async with AsyncClient(host="127.0.0.1", port=served.port, protocol=served.protocol) as client:
        received: list[str] = []

        async def consume() -> None:
            async for doc in client.stream_doc(on="/countdown", inputs=TextDoc(text="go"), parameters={"fail": True}):
                received.append(doc.text)

        with pytest.raises(ExecutorError, match="countdown of 'go' broke"):
            await consume()
        assert received == ["go 0", "go 1", "go 2"]
        with pytest.raises(EndpointNotFound, match="/nowhere"):
            [d async for d in client.stream_doc(on="/nowhere", inputs=TextDoc())]


def test_sync_stream_doc_unknown_endpoint_and_closed_port(served: Served) -> None:
    with pytest.raises(EndpointNotFound, match="/nowhere"):
        list(served.client().stream_doc(on="/nowhere", inputs=TextDoc()))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        Client(host="127.0.0.1", port=port, protocol=served.protocol) as client,
        pytest.raises(GatewayUnavailable, match=f"127.0.0.1:{port}"),
    ):
        list(client.stream_doc(on="/countdown", inputs=TextDoc()))


@pytest.fixture(scope="module", params=protocols())
def chatter(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param, lambda flow: flow.add(uses=Chatter, name="chatter")) as served:
        yield served


@pytest.mark.parametrize("on", ["/default", "/words", "/any/name"])
def test_stream_doc_from_a_default_generator_on_any_endpoint(chatter: Served, on: str) -> None:
    """A bare ``@requests`` generator serves every endpoint on every transport; over HTTP, where the gateway routes
    only discovered names by path, the client streams an undiscovered one from ``/default``, as the incumbent's does."""
    docs = chatter.client().stream_doc(on=on, inputs=TextDoc(text="one two three"), return_type=TextDoc)
    assert [d.text for d in docs] == ["one", "two", "three"]
