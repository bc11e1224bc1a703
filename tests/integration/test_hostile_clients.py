"""Clients that misbehave on purpose, against one gateway serving gRPC, HTTP and WebSocket: garbage and malformed
HTTP/2 frames on the gRPC port, oversized metadata, slowloris clients that send their headers a byte at a time,
and a thousand idle connections. Each time the gateway answers a well-behaved client right after (or during),
and no process of the Flow dies.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator

import grpc
import httpx
import pytest
from executors import Appender, TextDoc

from docwire import Client, Flow
from docwire_client.inputs import RequestSpec, build_request
from docwire_contract.methods import GatewayMethods
from docwire_contract.v1 import request_pb2

HOST = "127.0.0.1"
#: Seconds an HTTP/WebSocket client has to send a request (``Flow(http_read_timeout=...)``; 60 by default).
READ_TIMEOUT = 2.0
#: The HTTP/2 client connection preface (RFC 9113, section 3.4).
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    protocols = ["grpc", "http", "websocket"]
    flow = Flow(host=HOST, protocol=protocols, port=[0, 0, 0], http_read_timeout=READ_TIMEOUT)
    with flow.add(uses=Appender, name="first") as f:
        yield f


def _frame(kind: int, flags: int, stream: int, payload: bytes, length: int | None = None) -> bytes:
    """An HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload (the length may lie)."""
    size = len(payload) if length is None else length
    return struct.pack(">I", size)[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _send_and_drain(port: int, data: bytes, wait: float = 2.0) -> None:
    """Connects, sends ``data``, reads until the server closes or ``wait`` passes, then closes."""
    with socket.create_connection((HOST, port), timeout=wait) as sock:
        sock.sendall(data)
        deadline = time.monotonic() + wait
        try:
            while time.monotonic() < deadline and sock.recv(65536):
                pass
        except (TimeoutError, ConnectionResetError):
            pass


def _all_alive(flow: Flow) -> bool:
    for pid in flow.pids():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
    return True


def _serves_grpc(flow: Flow) -> None:
    with Client(host=HOST, port=flow.ports["grpc"]) as client:
        (doc,) = client.post("/", TextDoc(text="still"))
    assert doc.text == "still[first]"


def _serves_http(flow: Flow) -> None:
    reply = httpx.post(f"http://{HOST}:{flow.ports['http']}/post", json={"data": [{"text": "still"}]}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"][0]["text"] == "still[first]"


GARBAGE = {
    "random bytes": os.urandom(4096),
    "HTTP/1.1 on the gRPC port": b"POST /docwire.v1.GatewayService/Post HTTP/1.1\r\nHost: x\r\n\r\n",
    "preface then a frame of an unknown type": H2_PREFACE + _frame(0xEE, 0, 1, b"\x00" * 16),
    "preface then a frame claiming 16 MB": H2_PREFACE + _frame(0x0, 0, 1, b"\x00" * 8, length=0xFFFFFF),
    "preface then HEADERS with garbage HPACK": H2_PREFACE + _frame(0x4, 0, 0, b"") + _frame(0x1, 0x4, 1, b"\xff" * 64),
    "preface then DATA on a stream never opened": H2_PREFACE + _frame(0x4, 0, 0, b"") + _frame(0x0, 0x1, 7, b"x" * 32),
    "preface then a truncated frame": H2_PREFACE + _frame(0x4, 0, 0, b"")[:5],
}


@pytest.mark.parametrize("data", list(GARBAGE.values()), ids=list(GARBAGE))
def test_garbage_on_the_grpc_port_leaves_the_gateway_serving(flow: Flow, data: bytes) -> None:
    _send_and_drain(flow.ports["grpc"], data)
    _serves_grpc(flow)
    assert _all_alive(flow)


def test_oversized_metadata_is_refused_and_the_gateway_serves_on(flow: Flow) -> None:
    request = build_request(RequestSpec("/"), [TextDoc(text="big")])[1]
    with grpc.insecure_channel(f"{HOST}:{flow.ports['grpc']}") as channel:
        post: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(GatewayMethods.POST)
        with pytest.raises(grpc.RpcError) as refused:
            post(request, metadata=(("x-padding", "a" * 1_000_000),), timeout=30)
        assert refused.value.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL)
        # The same channel, with sane metadata, is answered.
        reply = request_pb2.DataRequest.FromString(post(request, metadata=(("x-padding", "a" * 100),), timeout=30))
    assert reply.header.status.code == request_pb2.Status.CODE_SUCCESS
    assert _all_alive(flow)


class _Slowloris:
    """``count`` connections that each send a request line, then one header byte every ``interval`` seconds."""

    def __init__(self, port: int, first_line: bytes, count: int, interval: float = 0.2) -> None:
        self.sockets = [socket.create_connection((HOST, port), timeout=10) for _ in range(count)]
        self._first_line = first_line
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)

    def _drip(self) -> None:
        for sock in self.sockets:
            sock.sendall(self._first_line)
        while not self._stop.wait(self._interval):  # bounded: the test sets _stop when done
            for sock in self.sockets:
                try:
                    sock.sendall(b"X")
                except OSError:
                    continue

    def __enter__(self) -> _Slowloris:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()


_SLOW_LINES = {
    "http": b"POST /post HTTP/1.1\r\nHost: x\r\nX-Slow: ",
    "websocket": b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Slow: ",
}


@pytest.mark.parametrize("protocol", ["http", "websocket"])
def test_slowloris_clients_do_not_starve_the_others(flow: Flow, protocol: str) -> None:
    with _Slowloris(flow.ports[protocol], _SLOW_LINES[protocol], count=200):
        time.sleep(0.5)  # the slow clients are connected and dripping
        for _ in range(5):
            _serves_http(flow)
            _serves_grpc(flow)
        if protocol == "websocket":  # the WebSocket port serves the HTTP API too
            status = httpx.get(f"http://{HOST}:{flow.ports['websocket']}/status", timeout=30)
            assert status.status_code == 200
    assert _all_alive(flow)


def _read_until_closed(sock: socket.socket) -> bytes:
    """What the server sends before it closes ``sock`` (30 s at most between reads)."""
    received = b""
    sock.settimeout(30)
    for _ in range(1000):  # bounded: the server closes the socket after READ_TIMEOUT
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


@pytest.mark.parametrize("protocol", ["http", "websocket"])
def test_a_slowloris_client_is_cut_after_the_read_timeout(flow: Flow, protocol: str) -> None:
    started = time.monotonic()
    with _Slowloris(flow.ports[protocol], _SLOW_LINES[protocol], count=1) as slow:
        _serves_http(flow)  # served meanwhile
        answer = _read_until_closed(slow.sockets[0])
    assert time.monotonic() - started >= READ_TIMEOUT  # it dripped a byte every 0.2 s all along
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert _all_alive(flow)


@pytest.mark.parametrize("protocol", ["http", "websocket"])
def test_a_connection_that_sends_nothing_is_closed_after_the_read_timeout(flow: Flow, protocol: str) -> None:
    with socket.create_connection((HOST, flow.ports[protocol]), timeout=30) as idle:
        assert _read_until_closed(idle).startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_a_thousand_idle_connections_do_not_stop_the_gateway(flow: Flow) -> None:
    idle: list[socket.socket] = []
    try:
        for port in (flow.ports["grpc"], flow.ports["http"]):
            idle += [socket.create_connection((HOST, port), timeout=10) for _ in range(500)]
        _serves_grpc(flow)
        _serves_http(flow)
        assert len(idle) == 1000
        for sock in idle[500:]:  # the HTTP ones: closed by the gateway once READ_TIMEOUT passes
            assert _read_until_closed(sock).startswith(b"HTTP/1.1 408")
    finally:
        for sock in idle:
            sock.close()
    assert _all_alive(flow)


def test_streams_abandoned_mid_flight_leave_no_error_in_the_gateway_log(capfd: pytest.CaptureFixture[str]) -> None:
    """Clients that cancel their stream with requests still in flight: the gateway ends its ProcessStream
    call too, and the requests it had in flight end with it quietly (it logged an asyncio ERROR, "Future
    exception was never retrieved", per request still waiting to be written). It serves the next client."""
    big = build_request(RequestSpec("/"), [TextDoc(text="x" * 200_000)])[1]
    # Started here, so its processes write to the stderr capfd reads.
    with (
        Flow(host=HOST).add(uses=Appender, name="first") as own,
        grpc.insecure_channel(f"{HOST}:{own.port}") as channel,
    ):
        stream: grpc.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(GatewayMethods.STREAM)
        for _ in range(8):
            call = stream(iter([big] * 30), timeout=30)
            next(call)  # one reply read, the rest abandoned
            call.cancel()
        time.sleep(0.5)  # the gateway ends what those calls left behind
        _serves_grpc(own)
    log = capfd.readouterr().err
    assert "never retrieved" not in log, log[-3000:]
    assert "ERROR" not in log, log[-3000:]


def test_clients_leaving_before_their_body_is_read_leave_no_error_in_the_log(capfd: pytest.CaptureFixture[str]) -> None:
    """A client that sends half a body and goes, on the HTTP routes that read one (``/post``, ``/graphql``, whose
    first request waits for its stack to load): nobody is left to answer, so nothing is logged as an error (each
    was an ERROR with a traceback: the application saw the client go while reading the body)."""
    with Flow(host=HOST, protocol=["http"]).add(uses=Appender, name="first") as own:
        for path in ("/post", "/graphql"):
            with socket.create_connection((HOST, own.port), timeout=10) as sock:
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                )
                sock.sendall(head.encode() + b'{"data"')
                time.sleep(0.2)  # the application is reading the body when the client goes
        url = f"http://{HOST}:{own.port}"
        reply = httpx.post(f"{url}/post", json={"data": [{"text": "still"}]}, timeout=30)
        assert reply.json()["data"][0]["text"] == "still[first]"
        mutation = {"query": 'mutation { docs(data: {text: "still"}) { text } }'}
        reply = httpx.post(f"{url}/graphql", json=mutation, timeout=60)  # after the abandoned one, which loaded GraphQL
        assert reply.json()["data"]["docs"] == [{"text": "still[first]"}], reply.text
    log = capfd.readouterr().err
    assert "Traceback" not in log, log[-3000:]
    assert "ERROR" not in log, log[-3000:]
