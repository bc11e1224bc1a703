"""Item 1: ``on_done``, ``on_error``, ``on_always`` per reply; ``continue_on_error``; errors are never swallowed."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from client_scenarios import Served, protocols, serve
from executors import Picky, TextDoc

from docwire import AsyncClient, Client, DocList, EndpointNotFound, ExecutorError, GatewayUnavailable, Response

#: Five requests of two documents; the second and the fourth hold a bad one.
TEXTS = ["a", "b", "bad-c", "d", "e", "f", "g", "bad-h", "i", "j"]
GOOD = ["a", "b", "e", "f", "i", "j"]


def texts() -> DocList[TextDoc]:
    return DocList[TextDoc]([TextDoc(text=t) for t in TEXTS])


@pytest.fixture(scope="module", params=protocols())
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param, lambda flow: flow.add(uses=Picky, name="picky")) as served:
        yield served


class Recorded:
    """Callbacks that record what they see."""

    def __init__(self) -> None:
        self.done: list[list[str]] = []
        self.errors: list[Response[Any]] = []
        self.always: list[str] = []

    def on_done(self, response: Response[Any]) -> None:
        self.done.append(list(response.docs.text))

    def on_error(self, response: Response[Any]) -> None:
        self.errors.append(response)

    def on_always(self, response: Response[Any]) -> None:
        self.always.append(response.request_id)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "unary"])
def test_each_reply_goes_to_its_callbacks_and_post_returns_none(served: Served, stream: bool) -> None:
    seen = Recorded()
    returned = served.client().post(
        "/picky",
        texts(),
        request_size=2,
        stream=stream,
        on_done=seen.on_done,
        on_error=seen.on_error,
        on_always=seen.on_always,
    )
    assert returned is None
    assert sorted(t for batch in seen.done for t in batch) == GOOD
    assert len(seen.always) == 5
    assert len(seen.errors) == 2
    for response in seen.errors:
        exception = response.status.exception
        assert exception.name == "ValueError"
        assert exception.executor == "picky"
        assert exception.args[0] == "bad documents"
        assert any("raise ValueError" in line for line in exception.stacks)
    assert sorted(a for r in seen.errors for a in r.status.exception.args[1:]) == ["bad-c", "bad-h"]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "unary"])
def test_inputs_that_fail_midway_raise_after_every_request_already_sent_is_answered(
    served: Served, stream: bool
) -> None:
    """The user's generator raising after 150 documents: the requests already sent are answered and handed to
    the callbacks, then its error is raised (over gRPC their replies were dropped, over WebSocket the post
    waited forever for an end the client never sent)."""

    def documents() -> Iterator[TextDoc]:
        for i in range(150):
            yield TextDoc(text=str(i))
        raise OSError("the source file is truncated at line 151")

    seen = Recorded()
    with pytest.raises(OSError, match="truncated at line 151"):
        served.client().post("/picky", documents, request_size=10, stream=stream, on_done=seen.on_done)
    assert sorted(int(t) for batch in seen.done for t in batch) == list(range(150))
    assert served.client().post("/picky", TextDoc(text="after"), return_type=TextDoc).text == "after"


def test_an_executor_error_without_on_error_raises(served: Served) -> None:
    seen = Recorded()
    with pytest.raises(ExecutorError, match="ValueError in executor 'picky'") as caught:
        served.client().post("/picky", texts(), request_size=2, on_done=seen.on_done, prefetch=1)
    assert caught.value.args_[:1] == ["bad documents"]
    assert seen.done == [["a", "b"]]  # prefetch=1: the second request failed before a third was sent


def test_continue_on_error_logs_and_goes_on(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="docwire.client"):
        docs = served.client().post(
            "/picky", texts(), request_size=2, continue_on_error=True, return_type=DocList[TextDoc]
        )
    assert sorted(docs.text) == GOOD  # the failed requests' documents are left out
    failures = [r.getMessage() for r in caplog.records if r.name == "docwire.client"]
    assert len(failures) == 2
    assert all("ValueError in executor 'picky'" in message for message in failures)


def test_an_exception_in_a_callback_is_raised_not_swallowed(served: Served) -> None:
    def explode(response: Response[Any]) -> None:
        raise ZeroDivisionError("the callback's own bug")

    with pytest.raises(ZeroDivisionError, match="the callback's own bug") as caught:
        served.client().post("/picky", DocList[TextDoc]([TextDoc(text="fine")]), on_done=explode)
    assert any("on_done callback" in note for note in getattr(caught.value, "__notes__", []))


def test_an_exception_in_a_callback_is_logged_with_continue_on_error(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    seen = Recorded()

    def explode(response: Response[Any]) -> None:
        raise ZeroDivisionError("the callback's own bug")

    with caplog.at_level(logging.ERROR, logger="docwire.client"):
        served.client().post(
            "/picky", texts(), request_size=2, on_done=explode, on_always=seen.on_always, continue_on_error=True
        )
    assert len(seen.always) == 5
    logged = [r for r in caplog.records if "on_done callback raised" in r.getMessage()]
    assert len(logged) == 3
    assert all(r.exc_info is not None and r.exc_info[0] is ZeroDivisionError for r in logged)


def test_gateway_errors_in_a_stream_raise_even_with_on_error(served: Served) -> None:
    seen = Recorded()
    with pytest.raises(EndpointNotFound, match="/nope"):
        served.client().post("/nope", texts(), request_size=2, on_error=seen.on_error, on_always=seen.on_always)
    assert seen.errors == []


def test_transport_errors_raise_and_skip_the_callbacks(served: Served) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    seen = Recorded()
    with Client(host="127.0.0.1", port=port, protocol=served.protocol) as client:
        for inputs in (TextDoc(text="one request"), texts()):
            with pytest.raises(GatewayUnavailable, match=f"127.0.0.1:{port}"):
                client.post("/picky", inputs, request_size=2, on_done=seen.on_done, on_error=seen.on_error)
    assert seen.done == []
    assert seen.errors == []


async def test_the_async_client_calls_back_and_still_yields(served: Served) -> None:
    seen = Recorded()
    async with AsyncClient(host="127.0.0.1", port=served.port, protocol=served.protocol) as client:
        yielded = [
            r
            async for r in client.post(
                "/picky", texts(), request_size=2, return_responses=True, on_done=seen.on_done, on_error=seen.on_error
            )
        ]
    assert len(yielded) == 5
    assert sorted(t for batch in seen.done for t in batch) == GOOD
    assert len(seen.errors) == 2
