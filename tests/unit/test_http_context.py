"""The gateway core's context for HTTP requests and WebSocket handshakes (no sockets)."""

from __future__ import annotations

from starlette.requests import Request

from docwire.transports.http_context import HttpContext


def _request(headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None = ("127.0.0.1", 5555)) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/post", "headers": headers, "client": client})


def test_the_metadata_leaves_out_http_and_grpc_hop_headers_and_is_read_once() -> None:
    request = _request(
        [
            (b"authorization", b"Bearer x"),
            (b"content-type", b"application/json"),
            (b"content-length", b"2"),
            (b"accept", b"*/*"),
            (b"user-agent", b"curl"),
            (b"grpc-timeout", b"1S"),
            (b"x-tenant", b"a"),
        ]
    )
    context = HttpContext(request)
    assert context.metadata() == (("authorization", "Bearer x"), ("x-tenant", "a"))
    assert context.metadata() is context.metadata()


def test_a_transport_names_its_own_hop_headers() -> None:
    request = _request([(b"sec-websocket-key", b"k"), (b"accept", b"*/*"), (b"authorization", b"t")])
    assert HttpContext(request, frozenset({"sec-websocket-key"})).metadata() == (
        ("accept", "*/*"),
        ("authorization", "t"),
    )


def test_the_peer_is_host_and_port() -> None:
    assert HttpContext(_request([])).peer() == "127.0.0.1:5555"
    assert HttpContext(_request([], ("::1", 5555))).peer() == "[::1]:5555"
    assert HttpContext(_request([], None)).peer() == ""


def test_no_deadline_and_cancelled_once_the_transport_says_so() -> None:
    context = HttpContext(_request([]))
    assert context.time_remaining() is None
    assert not context.cancelled()
    context.cancel()
    assert context.cancelled()
