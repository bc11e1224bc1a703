"""Server-sent events: a generator endpoint over HTTP (``GET /{endpoint}?field=value``, ``POST /{endpoint}`` with
``Accept: text/event-stream``, jina.Client's GET with the document as its body), framing and errors included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from executors import Countdown, Streamer

from docwire import Flow


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    with (
        Flow(host="127.0.0.1", protocol=["http", "grpc"])
        .add(uses=Streamer, name="streamer")
        .add(uses=Countdown, name="countdown") as started
    ):
        yield started


def _url(flow: Flow, path: str) -> str:
    return f"http://127.0.0.1:{flow.ports['http']}{path}"


def _events(body: bytes) -> list[tuple[str, Any]]:
    """The (event, data) pairs of an SSE body, checking the CRLF framing on the way."""
    assert body.endswith(b"\r\n\r\n"), body[-40:]
    events: list[tuple[str, Any]] = []
    for block in body.decode().split("\r\n\r\n")[:-1]:
        lines = block.split("\r\n")
        assert all("\n" not in line and "\r" not in line for line in lines), block
        fields = dict(line.split(": ", 1) for line in lines)
        assert set(fields) <= {"event", "data"}, block
        events.append((fields["event"], json.loads(fields["data"]) if "data" in fields else None))
    return events


def test_get_stream_query_fields_are_document_fields(flow: Flow) -> None:
    reply = httpx.get(_url(flow, "/hello"), params={"text": "hi"}, timeout=30)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = _events(reply.content)
    assert [name for name, _ in events] == ["update"] * 3 + ["end"]
    updates = [data for _, data in events[:-1]]
    assert [u["document"]["text"] for u in updates] == ["hi 0", "hi 1", "hi 2"]
    assert {u["header"]["execEndpoint"] for u in updates} == {"/hello"}
    assert len({u["header"]["requestId"] for u in updates}) == 1  # the gateway names the request
    assert updates[0]["header"]["requestId"]
    assert all(u["header"].get("status", {}).get("code", 0) == 0 for u in updates)
    assert len({u["document"]["id"] for u in updates}) == 3
    assert reply.content.endswith(b"event: end\r\n\r\n")


def test_parameters_in_the_query_and_one_event_per_document(flow: Flow) -> None:
    reply = httpx.get(_url(flow, "/hello"), params={"text": "yo", "parameters.count": "5"}, timeout=30)
    events = _events(reply.content)
    assert [d["document"]["text"] for name, d in events if name == "update"] == [f"yo {i}" for i in range(5)]
    assert events[-1] == ("end", None)


def test_events_arrive_while_the_generator_runs(flow: Flow) -> None:
    """Read incrementally: the first update is there before the whole stream is."""
    url = _url(flow, "/hello")
    with (
        httpx.Client(timeout=30) as client,
        client.stream("GET", url, params={"text": "n", "parameters.count": "2000"}) as reply,
    ):
        chunks = reply.iter_bytes()
        first = next(chunks)
        assert first.startswith(b"event: update\r\ndata: ")
        rest = b"".join(chunks)
    events = _events(first + rest)
    assert len(events) == 2001
    assert events[-1] == ("end", None)


def test_an_executor_error_mid_stream_is_an_error_event_with_the_exception(flow: Flow) -> None:
    reply = httpx.get(_url(flow, "/countdown"), params={"text": "go", "parameters.fail": "yes"}, timeout=30)
    assert reply.status_code == 200  # the stream had started: the error travels in the events
    events = _events(reply.content)
    assert [name for name, _ in events] == ["update"] * 3 + ["error", "end"]
    assert [d["document"]["text"] for _, d in events[:3]] == ["go 0", "go 1", "go 2"]
    error = events[3][1]
    assert error["error"] == "ExecutorError"  # the same fields an error response's body has ...
    assert (error["code"], error["status"]) == (13, "INTERNAL")
    assert "RuntimeError" in error["message"]
    status = error["header"]["status"]  # ... plus the executor's exception
    assert status["code"] == 1
    assert status["exception"]["name"] == "RuntimeError"
    assert status["exception"]["args"] == ["countdown of 'go' broke"]
    assert status["exception"]["executor"] == "countdown"
    assert any("raise RuntimeError" in line for line in status["exception"]["stacks"])


def test_an_error_before_the_first_event_is_an_http_error(flow: Flow) -> None:
    reply = httpx.get(
        _url(flow, "/countdown"), params={"text": "go", "parameters.fail": "yes", "parameters.count": "0"}
    )
    assert reply.status_code == 500
    assert reply.headers["content-type"].startswith("application/json")
    status = reply.json()["header"]["status"]
    assert status["exception"]["name"] == "RuntimeError"
    assert status["exception"]["executor"] == "countdown"


def test_unknown_endpoint_is_a_404_listing_the_endpoints(flow: Flow) -> None:
    reply = httpx.get(_url(flow, "/nowhere"), params={"text": "x"}, timeout=30)
    assert reply.status_code == 404
    error = reply.json()
    assert error["error"] == "EndpointNotFound"
    assert error["code"] == 5
    assert "/nowhere" in error["message"]
    assert "/hello" in error["endpoints"]


def test_the_seed_event_source_url(flow: Flow) -> None:
    """Seed 003's browser example: ``EventSource("/hello?id=1&exec_endpoint=/hello")``."""
    reply = httpx.get(_url(flow, "/hello?id=1&exec_endpoint=/hello"), timeout=30)
    assert reply.status_code == 200, reply.text
    events = _events(reply.content)
    assert [name for name, _ in events] == ["update"] * 3 + ["end"]
    assert [d["document"]["text"] for _, d in events[:3]] == [" 0", " 1", " 2"]


def test_post_with_accept_event_stream_streams_the_body_document(flow: Flow) -> None:
    """The body carries any document (not only what a query string can), as the Python client sends it."""
    reply = httpx.post(
        _url(flow, "/hello"),
        json={"document": {"text": "body"}, "parameters": {"count": 2}},
        headers={"accept": "text/event-stream"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = _events(reply.content)
    assert [(name, d and d["document"]["text"]) for name, d in events] == [
        ("update", "body 0"),
        ("update", "body 1"),
        ("end", None),
    ]


def test_a_get_with_the_document_as_its_body_gets_bare_documents(flow: Flow) -> None:
    """jina.Client's stream_doc: the document itself as a GET body, each event's data a bare document."""
    reply = httpx.request(
        "GET",
        _url(flow, "/hello"),
        content=json.dumps({"id": "d1", "text": "bare", "url": None}),
        headers={"accept": "text/event-stream", "content-type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    events = _events(reply.content)
    assert [name for name, _ in events] == ["update"] * 3 + ["end"]
    assert [sorted(data) for _, data in events[:3]] == [["id", "text"]] * 3
    assert [data["text"] for _, data in events[:3]] == ["bare 0", "bare 1", "bare 2"]
    # jina's client reads each event as b"event: update\r\ndata: " (14 bytes after "event: ") + JSON
    assert reply.content.startswith(b'event: update\r\ndata: {"')


def test_a_get_body_that_is_not_a_document_is_a_400(flow: Flow) -> None:
    reply = httpx.request("GET", _url(flow, "/hello"), content=b"[1, 2]", timeout=30)
    assert reply.status_code == 400
    assert reply.json()["message"] == "the body must be a JSON object (the document), not list"


def test_post_to_a_generator_endpoint_collects_the_documents(flow: Flow) -> None:
    """POST /{endpoint} without ``Accept: text/event-stream`` answers JSON with every produced document."""
    reply = httpx.post(_url(flow, "/hello"), json={"data": [{"text": "all"}], "parameters": {"count": 2}}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    assert [d["text"] for d in reply.json()["data"]] == ["all 0", "all 1"]


def test_get_with_the_document_in_the_body_streams_it(flow: Flow) -> None:
    """The incumbent's client sends its stream_doc document as the body of a GET (query fields are added to
    it) and reads each event's data as the bare document: that is what it gets."""
    reply = httpx.request(
        "GET",
        _url(flow, "/hello?parameters.count=2"),
        json={"text": "in the body"},
        headers={"accept": "text/event-stream"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    events = _events(reply.content)
    assert [(name, d and d["text"]) for name, d in events] == [
        ("update", "in the body 0"),
        ("update", "in the body 1"),
        ("end", None),
    ]


def test_get_with_the_request_in_the_body_streams_its_document(flow: Flow) -> None:
    """A body with a ``document`` key is the whole request, as POST takes it."""
    reply = httpx.request(
        "GET", _url(flow, "/hello"), json={"document": {"text": "wrapped"}, "parameters": {"count": 1}}, timeout=30
    )
    assert reply.status_code == 200, reply.text
    assert [(name, d and d["document"]["text"]) for name, d in _events(reply.content)] == [
        ("update", "wrapped 0"),
        ("end", None),
    ]


def test_get_with_a_body_that_is_no_object_is_400(flow: Flow) -> None:
    reply = httpx.request("GET", _url(flow, "/hello"), json=["text"], timeout=30)
    assert reply.status_code == 400
    assert reply.json()["message"] == "the body must be a JSON object (the document), not list"
