"""The client's WebSocket transport: requests streamed over a socket, as serialized protobuf.

Speaks the gateway's ``bytes`` subprotocol (``docs/websocket.md``): each binary frame is a
serialized ``docwire.v1.DataRequest`` (built exactly as for gRPC), each reply one too, matched
by request id; an empty binary frame ends the input, and the server answers it with the same
marker once every reply is out, then closes with 1000. So ``post`` has gRPC streaming's
semantics: sending and receiving at once, ``prefetch`` requests in flight, error replies
for the callbacks, and retries that re-send only the requests without a reply (a stopping
gateway closes with 1013 after answering what it took in).

A ``post`` of many requests streams them over a socket of its own; single requests share one
socket kept open between calls (``_SharedSocket``), so a run of them pays one handshake.

The gateway serves its HTTP API on the WebSocket port too, so ``dry_run``, ``endpoints``,
``stream_doc`` (server-sent events) and ``http_pool`` (for GraphQL) are the HTTP transport's, inherited.
``stream=False`` streams too (a socket has no unary calls); ``compression`` is ignored
(per-message deflate costs far more than it saves on tensors); ``metadata`` travels as
handshake headers, which the gateway hands to executors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import TypeVar

from docarray import BaseDoc
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from docwire_client.http_transport import HttpTransport
from docwire_client.inputs import Outgoing, build_request
from docwire_client.loops import reusable_on_this_loop
from docwire_client.options import PostOptions
from docwire_client.response import Response
from docwire_client.sending import RequestSource, send_requests
from docwire_client.target import Target
from docwire_client.transport import Replies
from docwire_contract.errors import (
    DocwireError,
    GatewayUnavailable,
    MessageTooLarge,
    error_from_http,
    error_from_status,
)
from docwire_contract.v1 import request_pb2

__all__ = ["WebSocketTransport"]

D = TypeVar("D", bound=BaseDoc)

logger = logging.getLogger("docwire.client")

SUBPROTOCOL = "bytes"
END = b""
#: Close codes after which the unanswered requests may be sent again: the server restarts (1012), is
#: stopping and answered what it took in (1013), or the connection dropped without a close frame (1006).
_RETRYABLE_CLOSES = frozenset({1006, 1012, 1013})
_MESSAGE_TOO_BIG = 1009


class WebSocketTransport(HttpTransport):
    """Calls a docwire gateway's WebSocket port (``ws://`` or ``wss://``).

    Args:
        target: where to connect.
        verify: what TLS verifies the server with: True (system CAs), or an SSL context trusting given CAs.
        max_message_size: the largest frame, in bytes, accepted from the server.
    """

    def __init__(self, target: Target, *, verify: bool | ssl.SSLContext = True, max_message_size: int) -> None:
        super().__init__(target, verify=verify)
        host = f"[{target.host}]" if ":" in target.host and not target.host.startswith("[") else target.host
        self.url = f"{'wss' if target.tls else 'ws'}://{host}:{target.port}/"
        self._max_size = max_message_size
        self._ssl: ssl.SSLContext | None = None
        if target.tls:
            self._ssl = verify if isinstance(verify, ssl.SSLContext) else ssl.create_default_context()
        self._shared = _SharedSocket(lambda: self._connect(()))

    #: The serialized request a batch of documents travels as: the same protobuf as over gRPC.
    build_request = staticmethod(build_request)

    async def post(
        self, raw: bytes, doc_type: type[D], options: PostOptions, request_id: str | None = None
    ) -> Response[D]:
        """Sends one request and returns its reply, over the socket single requests share (or, when the
        request carries metadata, which travels in the handshake, over a socket of its own).

        Raises:
            DocwireError: the call failed (after its retries).
        """
        if request_id is None:
            request_id = request_pb2.DataRequest.FromString(raw).header.request_id
        if options.headers:
            return await self._post_alone(Outgoing(request_id, raw, 0, 0), doc_type, options)
        retries = 0
        while True:
            try:
                return Response(await self._shared.call(raw, request_id), doc_type)
            except GatewayUnavailable as error:  # could not connect
                if retries + 1 >= options.retry.max_attempts:
                    raise
                retries += 1
                logger.warning("retry %d of a Post after: %s", retries, error)
            except ConnectionClosed as closed:  # the request went out; the socket closed before its reply
                if not _retryable(closed, retries, options):
                    raise self._close_error(closed) from None
                retries += 1
                logger.warning("retry %d of a Post after: %s", retries, closed)
            await asyncio.sleep(options.retry.delay(retries))

    async def _post_alone(self, item: Outgoing, doc_type: type[D], options: PostOptions) -> Response[D]:
        async def one() -> AsyncGenerator[Outgoing, None]:
            yield item

        replies = self.stream(RequestSource(one(), never_waits=True), asyncio.Semaphore(1), doc_type, options)
        async with contextlib.aclosing(replies):
            async for _, response in replies:
                return response
        raise GatewayUnavailable(f"the server at {self.target.uri} ended the socket without answering")

    async def close(self) -> None:
        """Closes the shared socket and the HTTP connections (a later call opens new ones)."""
        await self._shared.close()
        await super().close()

    async def stream(
        self,
        source: RequestSource,
        slots: asyncio.Semaphore,
        doc_type: type[D],
        options: PostOptions,
    ) -> Replies[D]:
        """Streams requests over one socket, sending and receiving at once; yields each reply.

        A slot is taken before each request is pulled; the caller releases it when it is
        done with the reply. A socket that closes before the end (the gateway stopping or
        restarting, the connection lost) is opened again and only the requests without a
        reply are re-sent; ``max_attempts`` counts consecutive attempts without a reply.

        Raises:
            DocwireError: the stream failed (after its retries).
        """
        unanswered: dict[str, Outgoing] = {}  # sent (or about to be re-sent), no reply yet; in send order
        retries = 0
        try:
            while True:
                try:
                    socket = await self._connect(options.headers)
                except DocwireError as error:
                    if not isinstance(error, GatewayUnavailable) or retries + 1 >= options.retry.max_attempts:
                        raise
                    retries += 1
                    logger.warning("retry %d of a WebSocket stream: %s", retries, error)
                    await asyncio.sleep(options.retry.delay(retries))
                    continue
                sender = asyncio.create_task(_send(socket, list(unanswered.values()), source, unanswered, slots))
                try:
                    async for frame in socket:
                        if frame == END:
                            break
                        message = _reply(frame)
                        sent = unanswered.pop(message.header.request_id, None)
                        if sent is None:
                            raise _unmatched(message)
                        retries = 0
                        yield sent, Response(message, doc_type)
                    else:  # the socket closed before the end marker
                        raise _closed_early(socket)
                    await sender
                    return
                except ConnectionClosed as closed:
                    failed = sender.exception() if sender.done() and not sender.cancelled() else None
                    if failed is not None and not isinstance(failed, ConnectionClosed):
                        raise failed from None  # the inputs failed
                    if not _retryable(closed, retries, options):
                        raise self._close_error(closed) from None
                    retries += 1
                    logger.warning(
                        "retry %d of a WebSocket stream (%d requests to re-send): %s", retries, len(unanswered), closed
                    )
                finally:
                    sender.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await sender
                    await socket.close()
                await asyncio.sleep(options.retry.delay(retries))
        finally:
            await source.aclose()

    #: A socket has no unary calls: ``stream=False`` streams too.
    posts = stream

    async def _connect(self, headers: Sequence[tuple[str, str]]) -> ClientConnection:
        try:
            return await connect(
                self.url,
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                additional_headers=list(headers),
                ssl=self._ssl,
                compression=None,
                max_size=self._max_size,
                open_timeout=10,
                # Keepalive pings (every 20 s, 20 s to answer) tell a dead peer from a slow request: the
                # gateway's event loop answers them while its executors work, and a socket kept open
                # between single posts would otherwise wait on a vanished peer for TCP's own timeout.
                ping_interval=20,
                ping_timeout=20,
            )
        except InvalidStatus as exc:
            raise _refusal(exc, self.target.uri) from None
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
            # ConnectionClosed: the server took the connection and closed it before the handshake ended (a
            # gateway stopping): nothing was sent yet, so it is retried as any failure to connect.
            raise self.unreachable(exc) from None

    def _close_error(self, closed: ConnectionClosed) -> DocwireError:
        """The DocwireError a close stands for: the reason names the error class (``"Name: message"``)."""
        code = _close_code(closed)
        reason = closed.rcvd.reason if closed.rcvd is not None else ""
        if code == _MESSAGE_TOO_BIG:
            return MessageTooLarge(f"the server at {self.target.uri} refused a frame as too large: {reason}")
        name, _, message = reason.partition(": ")
        named = error_from_status(name, message) if message else None
        if named is not None:
            return named
        detail = f" ({code}: {reason})" if reason else f" ({code})"
        return GatewayUnavailable(f"the server at {self.target.uri} closed the WebSocket{detail}")


class _Connection:
    """One open socket of ``_SharedSocket``, with the posts waiting for a reply on it."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.waiting: dict[str, asyncio.Future[request_pb2.DataRequest]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        """Hands each reply to the post waiting for it; when the socket ends, fails the posts still waiting."""
        failure: BaseException
        try:
            async for frame in self.socket:
                message = _reply(frame)
                future = self.waiting.get(message.header.request_id)
                if future is not None and not future.done():
                    future.set_result(message)
            failure = _closed_early(self.socket)
        except ConnectionClosed as closed:
            failure = closed
        except DocwireError as error:
            failure = error
            await self.socket.close()
        for future in list(self.waiting.values()):
            if not future.done():
                future.set_exception(failure)


class _SharedSocket:
    """The socket single requests share: each post writes its frame and waits for the reply with its id.

    Opened on first use and kept, so a run of single posts pays one handshake, not one
    each. A socket found closed when a frame is written (the gateway restarted while it
    sat idle) is replaced and the frame written again: it never went out, so nothing runs
    twice. A close after the frame went out fails the posts waiting on it with that close.
    """

    def __init__(self, connect: Callable[[], Awaitable[ClientConnection]]) -> None:
        self._connect = connect
        self._connection: _Connection | None = None
        self._opening: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, raw: bytes, request_id: str) -> request_pb2.DataRequest:
        """Sends one serialized request and waits for its reply.

        Raises:
            GatewayUnavailable: no socket could be opened.
            ConnectionClosed: the socket closed after the request went out, before its reply.
        """
        for fresh in (False, True):
            connection = await self._open()
            future: asyncio.Future[request_pb2.DataRequest] = asyncio.get_running_loop().create_future()
            connection.waiting[request_id] = future
            try:
                try:
                    await connection.socket.send(raw)
                except ConnectionClosed:  # closed before this frame went out: a fresh socket takes it
                    self._forget(connection)
                    if fresh:
                        raise
                    continue
                return await future
            finally:
                connection.waiting.pop(request_id, None)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.socket.close()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connection.reader

    async def _open(self) -> _Connection:
        if not reusable_on_this_loop(self._loop, "its socket"):
            self._connection = self._opening = None  # its loop is gone, and the socket with it
        if self._opening is None:
            self._opening, self._loop = asyncio.Lock(), asyncio.get_running_loop()
        async with self._opening:
            connection = self._connection
            if connection is None or connection.reader.done():
                connection = self._connection = _Connection(await self._connect())
            return connection

    def _forget(self, connection: _Connection) -> None:
        if self._connection is connection:
            self._connection = None


async def _send(
    socket: ClientConnection,
    resend: list[Outgoing],
    source: RequestSource,
    unanswered: dict[str, Outgoing],
    slots: asyncio.Semaphore,
) -> None:
    """Writes the stream's requests (``send_requests``), then the end marker.

    When the inputs fail (user code raised), the end marker goes out there: the requests already sent are
    answered and handed over first, then the reading side raises the inputs' error (without the marker the
    server waited for more, and the post for the end, forever).
    """
    try:
        await send_requests(socket.send, resend, source, unanswered, slots)
    except Exception:
        with contextlib.suppress(ConnectionClosed):
            await socket.send(END)
        raise
    await socket.send(END)


def _reply(frame: str | bytes) -> request_pb2.DataRequest:
    if isinstance(frame, str):
        raise DocwireError("the server sent a text frame on the bytes subprotocol")
    return request_pb2.DataRequest.FromString(frame)


def _unmatched(message: request_pb2.DataRequest) -> DocwireError:
    """What a reply to no request of ours means: the server refused a frame (its status says why)."""
    status = message.header.status
    if status.code != request_pb2.Status.CODE_SUCCESS:
        return error_from_status(status.exception.name, status.description) or DocwireError(status.description)
    return DocwireError(f"the server answered an unknown request {message.header.request_id!r}")


def _closed_early(socket: ClientConnection) -> ConnectionClosed:
    """A clean close before the end marker is still an early end: treat it as the close it was."""
    return ConnectionClosed(socket.protocol.close_rcvd, socket.protocol.close_sent)


def _close_code(closed: ConnectionClosed) -> int:
    """The code the server closed with; 1006 (abnormal closure) when no close frame came."""
    return closed.rcvd.code if closed.rcvd is not None else 1006


def _retryable(closed: ConnectionClosed, retries: int, options: PostOptions) -> bool:
    """Whether a call that ``closed`` ended may be tried again (the server went away, attempts are left)."""
    return _close_code(closed) in _RETRYABLE_CLOSES and retries + 1 < options.retry.max_attempts


def _refusal(exc: InvalidStatus, uri: str) -> DocwireError:
    """What a refused handshake stands for: a docwire gateway's error body names it (401 without a token,
    400 for an unknown subprotocol, 403 for an origin), anything else is a plain refusal."""
    try:
        body = json.loads(exc.response.body or b"")
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        return error_from_http(exc.response.status_code, body)
    if exc.response.status_code >= 500:
        # The HTTP server failed the handshake itself (uvicorn answers 500 to an upgrade that races its
        # shutdown): no request went on a socket that never opened, so it is as safe to retry as UNAVAILABLE.
        return GatewayUnavailable(f"the server at {uri} failed the WebSocket handshake: {exc}")
    return DocwireError(f"the server at {uri} refused the WebSocket: {exc}")
