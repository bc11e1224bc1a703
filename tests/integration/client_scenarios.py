"""What the client's tests share: the one table of protocols they run over, and a wiretap.

Each ``test_client_*`` module starts its Flows once per protocol in ``SCENARIOS``
that has the features the module needs, so a new transport joins every client
test by adding a row here.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from docwire import Client, Flow

__all__ = ["FEATURES", "SCENARIOS", "Scenario", "Served", "WireTap", "protocols", "serve"]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A protocol the gateway speaks, what its transport can do beyond the common core, and why it lacks the rest."""

    protocol: str
    features: frozenset[str] = frozenset()
    lacks: tuple[tuple[str, str], ...] = ()  # (feature, why): documentation, checked against FEATURES


#: Features beyond the common core (post, callbacks, ordering, prefetch, retries, stream_doc, endpoints...):
FEATURES = {
    "compression": "``compression=`` shrinks the bytes sent",
    "metadata": "``metadata=`` reaches executors",
    "http2": "calls can be counted on the wire as HTTP/2 streams; ``stream=True`` is one bidi call",
    "fork_check": "a client used in a forked child raises instead of hanging",
}

#: Every protocol the gateway speaks.
SCENARIOS = (
    Scenario("grpc", frozenset({"compression", "metadata", "http2", "fork_check"})),
    Scenario(
        "http",
        frozenset({"metadata"}),  # metadata travels as HTTP headers
        lacks=(
            ("compression", "the HTTP server does not decode compressed request bodies: the client ignores it"),
            ("http2", "HTTP/1.1 JSON: one call per request whatever ``stream=`` says, nothing to count as streams"),
            ("fork_check", "httpx survives fork(); only gRPC needs the guard"),
        ),
    ),
    Scenario(
        "websocket",
        frozenset({"metadata"}),  # metadata travels as handshake headers
        lacks=(
            ("compression", "per-message deflate costs more than it saves on tensors: the client ignores it"),
            ("http2", "one socket per post, whatever ``stream=`` says; no HTTP/2 streams to count"),
            ("fork_check", "websockets survives fork(); only gRPC needs the guard"),
        ),
    ),
)
assert all(set(s.features) | {f for f, _ in s.lacks} == set(FEATURES) for s in SCENARIOS)


def protocols(*features: str) -> list[str]:
    """The protocols whose transports have every one of ``features``."""
    return [s.protocol for s in SCENARIOS if set(features) <= s.features]


@dataclass
class Served:
    """A started Flow and the protocol its clients use."""

    protocol: str
    flow: Flow
    _clients: list[Client] = field(default_factory=list)

    @property
    def port(self) -> int:
        assert self.flow.port is not None
        return self.flow.port

    def client(self, port: int | None = None) -> Client:
        """A client of the Flow (or of ``port``, a proxy in front of it), closed with the Flow."""
        client = Client(host="127.0.0.1", port=port or self.port, protocol=self.protocol)
        self._clients.append(client)
        return client


@contextlib.contextmanager
def serve(protocol: str, build: Callable[[Flow], Flow], **flow_settings: object) -> Iterator[Served]:
    """Starts ``build(Flow(...))`` on loopback for ``protocol``; stops it afterwards."""
    flow = build(Flow(host="127.0.0.1", protocol=protocol, **flow_settings))  # type: ignore[arg-type]
    with flow:
        served = Served(protocol, flow)
        try:
            yield served
        finally:
            for client in served._clients:
                client.close()


class WireTap:
    """A loopback TCP proxy in front of a server: counts the bytes each way, and the HTTP/2 calls opened.

    It runs its own event loop in a thread, so a sync client can call through it.
    """

    _PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    _HEADERS_FRAME = 0x1

    def __init__(self, upstream_port: int) -> None:
        self._upstream = upstream_port
        self.sent = 0  # bytes client -> server
        self.received = 0  # bytes server -> client
        self._streams: set[tuple[int, int]] = set()  # (connection, stream id) with a HEADERS frame from the client
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="wiretap", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections = 0
        self.port = 0

    @property
    def calls(self) -> int:
        """How many calls (HTTP/2 streams) clients opened through the tap."""
        return len(self._streams)

    @property
    def connections(self) -> int:
        """How many TCP connections clients opened through the tap."""
        return self._connections

    def reset(self) -> None:
        """Starts counting from zero."""
        self.sent = self.received = 0
        self._streams.clear()

    def __enter__(self) -> WireTap:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._connections += 1
        connection = self._connections
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        upstream = asyncio.create_task(self._pump(client_reader, server_writer, connection))
        downstream = asyncio.create_task(self._pump(server_reader, client_writer, None))
        for task in (upstream, downstream):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.wait((upstream, downstream), return_when=asyncio.FIRST_COMPLETED)
        for task in (upstream, downstream):
            task.cancel()
        for writer in (client_writer, server_writer):
            writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: int | None) -> None:
        """Copies until EOF; ``connection`` is set on the client-to-server direction, whose frames are read."""
        pending = b""
        preface_left = len(self._PREFACE) if connection is not None else 0
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
            if connection is None:
                self.received += len(chunk)
                continue
            self.sent += len(chunk)
            pending += chunk
            if preface_left:
                skipped = min(preface_left, len(pending))
                pending, preface_left = pending[skipped:], preface_left - skipped
            pending = self._read_frames(pending, connection)

    def _read_frames(self, data: bytes, connection: int) -> bytes:
        """Notes the stream of each complete HEADERS frame in ``data``; returns the incomplete rest."""
        while len(data) >= 9:
            length = int.from_bytes(data[:3], "big")
            if len(data) < 9 + length:
                break
            frame_type = data[3]
            (stream,) = struct.unpack(">I", data[5:9])
            if frame_type == self._HEADERS_FRAME:
                self._streams.add((connection, stream & 0x7FFFFFFF))
            data = data[9 + length :]
        return data
