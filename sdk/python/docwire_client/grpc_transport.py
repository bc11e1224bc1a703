"""The client's gRPC transport: one channel, the data calls (unary and bidi stream) with retries, and the rest.

A gRPC channel belongs to the event loop it was opened in, and gRPC does not
survive ``fork()``: both misuses raise a RuntimeError saying what to do instead,
rather than hang.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any, TypeVar, cast

import grpc
import httpx
from docarray import BaseDoc
from google.protobuf import empty_pb2
from google.protobuf.message import Message

from docwire_client.inputs import Outgoing, build_request
from docwire_client.loops import reusable_on_this_loop
from docwire_client.options import PostOptions
from docwire_client.response import Response
from docwire_client.retry import is_transient
from docwire_client.sending import RequestSource, send_requests
from docwire_client.shared_call import BlockingSharedCall, SharedCall
from docwire_client.target import Target
from docwire_client.transport import Replies, Transport
from docwire_contract.codec import decode_doc, encode_doc
from docwire_contract.errors import DocwireError, FailedCall, error_from_rpc
from docwire_contract.methods import GatewayMethods
from docwire_contract.v1 import request_pb2

__all__ = ["GrpcTransport"]

M = TypeVar("M", bound=Message)
D = TypeVar("D", bound=BaseDoc)

logger = logging.getLogger("docwire.client")

_COMPRESSION = {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}

#: The largest request a post sends on the shared Stream call: a call's set-up is most of a small request's
#: cost, little of a large one's, and a message over the gateway's limit ends the call it came on.
SHARED_CALL_MAX_BYTES = 64 * 1024

#: The process whose client first opened a channel: gRPC cannot be used in a child it forks.
_grpc_pid: int | None = None


def _check_not_forked() -> None:
    if _grpc_pid is not None and _grpc_pid != os.getpid():
        raise RuntimeError(
            f"this process was forked from process {_grpc_pid} after it had opened a gRPC channel, and gRPC does "
            "not survive fork(): a call here would hang. Create clients in processes started with "
            "multiprocessing's 'spawn' or 'forkserver' method, or fork before any client is used."
        )


class GrpcTransport(Transport):
    """Calls a docwire gateway over one gRPC channel.

    Args:
        target: where to connect.
        root_certificates: PEM CA certificates to verify the server with (TLS only).
        max_message_size: the largest message, in bytes, sent or received.
    """

    def __init__(self, target: Target, *, root_certificates: bytes | None, max_message_size: int) -> None:
        self.target = target
        self._root_certificates = root_certificates
        self._options = [
            ("grpc.max_receive_message_length", max_message_size),
            ("grpc.max_send_message_length", max_message_size),
            # Reconnect soon after a gateway comes back (gRPC's default waits up to 120 s),
            # so retries with backoff find it.
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ]
        self._channel: grpc.aio.Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._blocking = _BlockingPost(self._open_blocking)
        self._shared = SharedCall(self._open_shared)

    @property
    def channel(self) -> grpc.aio.Channel:
        """The channel, opened on first use in the running event loop.

        Raises:
            RuntimeError: called from another event loop than the one the channel belongs to,
                or in a process forked after gRPC was used.
        """
        global _grpc_pid  # one per process, by design
        _check_not_forked()
        if self._channel is not None and not reusable_on_this_loop(self._loop, "gRPC channels"):
            self._channel = None  # its loop is gone, and the channel with it
        if self._channel is None:
            address, credentials = self.target.address, self._credentials()
            if credentials is not None:
                self._channel = grpc.aio.secure_channel(address, credentials, options=self._options)
            else:
                self._channel = grpc.aio.insecure_channel(address, options=self._options)
            self._loop = asyncio.get_running_loop()
            _grpc_pid = _grpc_pid or os.getpid()
        return self._channel

    def _credentials(self) -> grpc.ChannelCredentials | None:
        """What a channel verifies the server with; None for plaintext."""
        if not self.target.tls:
            return None
        return grpc.ssl_channel_credentials(root_certificates=self._root_certificates)

    def _open_blocking(self) -> grpc.Channel:
        """A new channel of gRPC's sync API (``post_blocking``'s)."""
        global _grpc_pid  # one per process, by design
        address, credentials = self.target.address, self._credentials()
        _grpc_pid = _grpc_pid or os.getpid()
        if credentials is not None:
            return grpc.secure_channel(address, credentials, options=self._options)
        return grpc.insecure_channel(address, options=self._options)

    #: The serialized request a batch of documents travels as.
    build_request = staticmethod(build_request)

    def error(self, exc: FailedCall) -> DocwireError:
        """The DocwireError a failed call stands for."""
        return error_from_rpc(exc, self.target.uri)

    async def post(
        self, raw: bytes, doc_type: type[D], options: PostOptions, request_id: str | None = None
    ) -> Response[D]:
        """One request, retried on transient errors: on the Stream call single posts share (``shared_call``)
        when ``request_id`` is given and the request is small and carries neither metadata nor compression
        (both are a call's), else as a unary Post call of its own.

        A shared call that fails for a reason that may be another request's (anything but a transient
        one: a message too large, say) sends this request again as a Post of its own, whose outcome is
        its own.

        Raises:
            DocwireError: the call failed (after its retries).
        """
        shared = _may_share(raw, request_id, options)
        retries = 0
        while True:
            try:
                if shared:
                    return Response(await self._shared.call(raw, cast(str, request_id)), doc_type)
                reply: request_pb2.DataRequest = await self._post_call()(
                    raw, metadata=options.headers or None, compression=_compression(options)
                )
                return Response(reply, doc_type)
            except grpc.aio.AioRpcError as exc:
                if shared and not is_transient(exc):
                    shared = False  # maybe not this request's failure: it goes alone, at once
                    continue
                retries = self._retry_after(exc, retries, options)
            await asyncio.sleep(options.retry.delay(retries))

    def _post_call(self) -> grpc.aio.UnaryUnaryMultiCallable[bytes, request_pb2.DataRequest]:
        return self.channel.unary_unary(GatewayMethods.POST, response_deserializer=request_pb2.DataRequest.FromString)

    def _open_shared(self) -> grpc.aio.StreamStreamCall[bytes, request_pb2.DataRequest]:
        parse = request_pb2.DataRequest.FromString
        return self.channel.stream_stream(GatewayMethods.STREAM, response_deserializer=parse)()

    def post_blocking(
        self, raw: bytes, doc_type: type[D], options: PostOptions, request_id: str | None = None
    ) -> Response[D]:
        """``post``, blocking the calling thread on a channel of gRPC's sync API: no event loop is run.

        A sync ``Client`` sends a post that is one request this way: a round trip then costs what gRPC's
        own calls cost, not a turn of an event loop as well (``docs/performance.md``). The Stream call
        single posts share is the sync API's (``shared_call.BlockingSharedCall``), shared by the threads.

        Raises:
            DocwireError: the call failed (after its retries).
        """
        shared = _may_share(raw, request_id, options)
        retries = 0
        while True:
            try:
                if shared:
                    return Response(self._blocking.shared().call(raw, cast(str, request_id)), doc_type)
                reply: request_pb2.DataRequest = self._blocking.post()(
                    raw, metadata=options.headers or None, compression=_compression(options)
                )
                return Response(reply, doc_type)
            except grpc.RpcError as exc:
                failed = cast(FailedCall, exc)
                if shared and not is_transient(failed):
                    shared = False  # maybe not this request's failure: it goes alone, at once
                    continue
                retries = self._retry_after(failed, retries, options)
            time.sleep(options.retry.delay(retries))

    def _retry_after(self, exc: FailedCall, retries: int, options: PostOptions) -> int:
        """The number of the retry a failed unary call goes on with.

        Raises:
            DocwireError: the failure is not transient, or no attempt is left.
        """
        if not is_transient(exc) or retries + 1 >= options.retry.max_attempts:
            raise self.error(exc) from None
        logger.warning("retry %d of a Post after: %s", retries + 1, exc.details())
        return retries + 1

    async def stream(
        self,
        source: RequestSource,
        slots: asyncio.Semaphore,
        doc_type: type[D],
        options: PostOptions,
    ) -> Replies[D]:
        """Streams requests over one bidi call, sending and receiving at once; yields each reply.

        A slot is taken before each request is pulled; the caller releases it when it
        is done with the reply. When the stream fails on a transient error, a new one
        re-sends only the requests that got no reply (the gateway drains a stream when it
        stops: whatever it took in is answered, the rest it never forwarded), then goes on
        with the inputs. ``max_attempts`` counts consecutive attempts without a reply.

        Raises:
            DocwireError: the stream failed (after its retries).
        """
        unanswered: dict[str, Outgoing] = {}  # sent (or about to be re-sent), no reply yet; in send order
        retries = 0
        try:
            while True:
                call: grpc.aio.StreamStreamCall[bytes, request_pb2.DataRequest] = self.channel.stream_stream(
                    GatewayMethods.STREAM, response_deserializer=request_pb2.DataRequest.FromString
                )(metadata=options.headers or None, compression=_compression(options))
                resend = list(unanswered.values())
                sender = asyncio.create_task(_send(call, resend, source, unanswered, slots))
                try:
                    async for message in call:
                        sent = unanswered.pop(message.header.request_id, None)
                        if sent is None:
                            raise DocwireError(f"the server answered an unknown request {message.header.request_id!r}")
                        retries = 0
                        yield sent, Response(message, doc_type)
                    await sender
                    return
                except (grpc.aio.AioRpcError, asyncio.CancelledError) as exc:
                    if sender.done() and not sender.cancelled() and (failed := sender.exception()) is not None:
                        raise failed from None  # the inputs failed; the call was cancelled for it
                    if not isinstance(exc, grpc.aio.AioRpcError):
                        raise
                    if not is_transient(exc) or retries + 1 >= options.retry.max_attempts:
                        raise self.error(exc) from None
                    retries += 1
                    logger.warning("retry %d of a stream (%d requests to re-send): %s", retries, len(unanswered), exc)
                finally:
                    sender.cancel()
                    call.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await sender
                await asyncio.sleep(options.retry.delay(retries))
        finally:
            await source.aclose()

    async def stream_doc(
        self,
        on: str,
        doc: BaseDoc,
        parameters: Mapping[str, Any] | None,
        doc_type: type[D],
        timeout: float | None,
        headers: tuple[tuple[str, str], ...],
    ) -> AsyncGenerator[D, None]:
        """StreamDoc: one document in, each document the generator endpoint produces out.

        Raises:
            ExecutorError: the endpoint raised.
            DocwireError: the call failed.
        """
        request = request_pb2.SingleDocumentRequest()
        request.header.exec_endpoint = on
        if parameters:
            request.parameters.update(dict(parameters))
        request.document.CopyFrom(encode_doc(doc))
        call = self.channel.unary_stream(
            GatewayMethods.STREAM_DOC,
            request_serializer=request_pb2.SingleDocumentRequest.SerializeToString,
            response_deserializer=request_pb2.SingleDocumentRequest.FromString,
        )
        try:
            async for reply in call(request, timeout=timeout, metadata=headers or None):
                if reply.header.status.code != request_pb2.Status.CODE_SUCCESS:
                    raise Response(request_pb2.DataRequest(header=reply.header), doc_type).error()
                yield decode_doc(reply.document, doc_type)
        except grpc.aio.AioRpcError as exc:
            raise self.error(exc) from None

    async def dry_run(self, timeout: float) -> request_pb2.Status:
        """DryRun: the Status of the whole Flow.

        Raises:
            DocwireError: the gateway cannot be reached.
        """
        return await self._ask(GatewayMethods.DRY_RUN, request_pb2.Status, timeout)

    async def endpoints(self, timeout: float) -> request_pb2.EndpointsInfo:
        """Endpoints: the Flow's endpoints and their schemas.

        Raises:
            DocwireError: the gateway cannot be reached.
        """
        return await self._ask(GatewayMethods.ENDPOINTS, request_pb2.EndpointsInfo, timeout)

    async def _ask(self, method: str, reply: type[M], timeout: float) -> M:
        """A unary rpc that takes ``Empty``."""
        call = self.channel.unary_unary(
            method, request_serializer=empty_pb2.Empty.SerializeToString, response_deserializer=reply.FromString
        )
        try:
            answer: M = await call(empty_pb2.Empty(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise self.error(exc) from None
        return answer

    @property
    def http_pool(self) -> httpx.AsyncClient | None:
        """None: a gRPC channel has no HTTP/1.1 connections for GraphQL to share."""
        return None

    async def close(self) -> None:
        """Closes the channels (a later call opens a new one)."""
        self.close_blocking()
        await self._shared.close()
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()

    def close_blocking(self) -> None:
        """Closes the channel of ``post_blocking`` (a later call opens a new one)."""
        self._blocking.close()


class _BlockingPost:
    """The Post rpc on a channel of gRPC's sync API, opened on first use; safe to share between threads
    (gRPC's sync channels are), which a sync ``Client`` is."""

    def __init__(self, open_channel: Callable[[], grpc.Channel]) -> None:
        self._open_channel = open_channel
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._post: grpc.UnaryUnaryMultiCallable[bytes, request_pb2.DataRequest] | None = None
        self._shared: BlockingSharedCall | None = None

    def post(self) -> grpc.UnaryUnaryMultiCallable[bytes, request_pb2.DataRequest]:
        """The rpc, on the channel (opened now if need be).

        Raises:
            RuntimeError: this process was forked after gRPC was used.
        """
        _check_not_forked()
        with self._lock:
            if self._post is None:
                self._post = self._opened().unary_unary(
                    GatewayMethods.POST, response_deserializer=request_pb2.DataRequest.FromString
                )
            return self._post

    def shared(self) -> BlockingSharedCall:
        """The Stream call single posts share, on the channel (opened now if need be).

        Raises:
            RuntimeError: this process was forked after gRPC was used.
        """
        _check_not_forked()
        with self._lock:
            if self._shared is None:
                stream: grpc.StreamStreamMultiCallable[bytes, request_pb2.DataRequest] = self._opened().stream_stream(
                    GatewayMethods.STREAM, response_deserializer=request_pb2.DataRequest.FromString
                )
                self._shared = BlockingSharedCall(stream)
            return self._shared

    def _opened(self) -> grpc.Channel:
        """The channel, opened now if need be (the caller holds ``_lock``)."""
        if self._channel is None:
            self._channel = self._open_channel()
            _OPEN_AT_EXIT.add(self)
        return self._channel

    def close(self) -> None:
        """Closes the channel; calls under way on it end CANCELLED."""
        with self._lock:
            channel, self._channel, self._post = self._channel, None, None
            shared, self._shared = self._shared, None
        if shared is not None:
            shared.close()
        if channel is not None:
            channel.close()


#: The sync channels open now, closed at exit while every thread still runs: closed later, by a client's
#: finalizer during the interpreter's shutdown, a channel's lock may be held by a thread that no longer runs
#: (its shared call's), and the process would never exit.
_OPEN_AT_EXIT: weakref.WeakSet[_BlockingPost] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    for blocking in list(_OPEN_AT_EXIT):
        blocking.close()


def _may_share(raw: bytes, request_id: str | None, options: PostOptions) -> bool:
    """Whether a post goes on the Stream call single posts share: it says its id, it is small, and it
    carries neither metadata nor compression (both are a call's)."""
    return (
        request_id is not None
        and len(raw) <= SHARED_CALL_MAX_BYTES
        and not options.headers
        and options.send.compression is None
    )


def _compression(options: PostOptions) -> grpc.Compression | None:
    return None if options.send.compression is None else _COMPRESSION[options.send.compression.lower()]


async def _send(
    call: grpc.aio.StreamStreamCall[bytes, request_pb2.DataRequest],
    resend: list[Outgoing],
    source: RequestSource,
    unanswered: dict[str, Outgoing],
    slots: asyncio.Semaphore,
) -> None:
    """Writes the stream's requests (``send_requests``), then ends the writing side.

    When the inputs fail (user code raised), the writing side ends there too: the requests already sent are
    answered and handed over first, then the reading side raises the inputs' error (``await`` of this task).
    """
    try:
        await send_requests(call.write, resend, source, unanswered, slots)
        await call.done_writing()
    except (grpc.RpcError, asyncio.InvalidStateError):
        pass  # the call failed; the reading side reports why
    except Exception:
        with contextlib.suppress(grpc.RpcError, asyncio.InvalidStateError):
            await call.done_writing()
        raise
    except BaseException:  # cancelled (or interrupted): end the call
        call.cancel()
        raise
