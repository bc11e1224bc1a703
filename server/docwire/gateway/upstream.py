"""Channels from the gateway to executor replicas: round-robin, failover, errors that name the replica."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

import grpc
from google.protobuf import empty_pb2

from docwire.gateway.router import ExecutorNode
from docwire.transports.grpc_server import PROCESS_STREAM_FRAMING_BYTES, channel_options
from docwire_contract.conventions import ERROR_METADATA_KEY
from docwire_contract.errors import (
    DocwireError,
    ExecutorUnavailable,
    RequestTimeout,
    ended_while_sending,
    error_from_call_status,
)
from docwire_contract.methods import ExecutorMethods
from docwire_contract.v1 import executor_pb2, request_pb2

if TYPE_CHECKING:
    from docwire.gateway.replica_streams import UpstreamStreams

__all__ = ["ReplicaPool", "call_error", "upstream_error"]


def upstream_error(exc: grpc.aio.AioRpcError, executor: str, address: str) -> DocwireError:
    """Translates a failed call to an executor into the DocwireError the gateway reports."""
    if ended_while_sending(exc):  # the executor ended the call (or went away); its own status is lost
        return ExecutorUnavailable(f"executor {executor!r} at {address} ended the call while a request was sent")
    named = [str(value) for key, value in exc.trailing_metadata() or () if key == ERROR_METADATA_KEY]
    return call_error(exc.code(), exc.details() or "", named[0] if named else "", executor, address)


def call_error(code: grpc.StatusCode, details: str, error_class: str, executor: str, address: str) -> DocwireError:
    """The DocwireError the gateway reports for a call to an executor that ended with ``code``
    (``error_class``: the class the executor named, empty when none)."""
    where = f"executor {executor!r} at {address}"
    if code == grpc.StatusCode.UNAVAILABLE:
        return ExecutorUnavailable(f"{where} is unavailable: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return RequestTimeout(f"{where} did not answer before the deadline")
    # Anything else keeps the class the executor named (or its code's), with the executor named.
    error = type(error_from_call_status(code, details, error_class))(f"{where}: {details}")
    error.grpc_code = code
    return error


def _never_delivered(exc: grpc.aio.AioRpcError) -> bool:
    """Whether the call failed while connecting, before any byte of the request was sent."""
    details = (exc.details() or "").lower()
    return exc.code() == grpc.StatusCode.UNAVAILABLE and "failed to connect" in details


class ReplicaPool:
    """The replicas of one executor, called in turn; a replica that is down is skipped."""

    def __init__(self, node: ExecutorNode, max_message_bytes: int) -> None:
        self.node = node
        options = channel_options(max_message_bytes + PROCESS_STREAM_FRAMING_BYTES)
        self._channels = [grpc.aio.insecure_channel(address, options=options) for address in node.addresses]
        self._process: list[grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = [
            ch.unary_unary(ExecutorMethods.PROCESS) for ch in self._channels
        ]
        self._process_stream: list[grpc.aio.StreamStreamMultiCallable[bytes, executor_pb2.ProcessResult]] = [
            ch.stream_stream(
                ExecutorMethods.PROCESS_STREAM, response_deserializer=executor_pb2.ProcessResult.FromString
            )
            for ch in self._channels
        ]
        self._stream_doc: list[grpc.aio.UnaryStreamMultiCallable[bytes, bytes]] = [
            ch.unary_stream(ExecutorMethods.STREAM_DOC) for ch in self._channels
        ]
        self._endpoints = [
            ch.unary_unary(
                ExecutorMethods.ENDPOINTS,
                request_serializer=empty_pb2.Empty.SerializeToString,
                response_deserializer=request_pb2.EndpointsInfo.FromString,
            )
            for ch in self._channels
        ]
        self._turn = itertools.cycle(range(len(self._channels)))

    def _order(self) -> Sequence[int]:
        first = next(self._turn)
        count = len(self._channels)
        return [(first + i) % count for i in range(count)]

    async def process(
        self,
        raw: bytes,
        timeout: float | None,
        metadata: Sequence[tuple[str, str]] = (),
        streams: UpstreamStreams | None = None,
    ) -> bytes:
        """Runs one request on the next replica, passing ``metadata`` (the client's headers) on.

        A replica that refuses the connection is skipped for the next one: the
        request never reached it. A replica that fails once the request may have
        reached it is reported, not retried, so no request runs twice. With
        ``streams`` (the requests of one client stream), the request goes over the
        stream open to that replica when there is one (see ``replica_streams``).
        """
        order = self._order()
        if streams is not None and (stream := streams.stream_to(self, order[0])) is not None:
            return await stream.process(raw, timeout)
        failure: grpc.aio.AioRpcError | None = None
        index = 0
        for index in order:
            try:
                reply: bytes = await self._process[index](raw, timeout=timeout, metadata=metadata or None)
                return reply
            except grpc.aio.AioRpcError as exc:
                if not _never_delivered(exc):
                    raise upstream_error(exc, self.node.name, self.node.addresses[index]) from exc
                failure = exc
        assert failure is not None
        raise upstream_error(failure, self.node.name, self.node.addresses[index]) from failure

    def connected(self, index: int) -> bool:
        """Whether the channel to replica ``index`` is connected."""
        return self._channels[index].get_state() == grpc.ChannelConnectivity.READY

    def process_stream_call(
        self, index: int, metadata: Sequence[tuple[str, str]]
    ) -> grpc.aio.StreamStreamCall[bytes, executor_pb2.ProcessResult]:
        """A new ProcessStream call to replica ``index``, carrying ``metadata`` (the client's headers)."""
        return self._process_stream[index](metadata=metadata or None)

    async def stream_doc(
        self, raw: bytes, timeout: float | None, metadata: Sequence[tuple[str, str]] = ()
    ) -> AsyncIterator[bytes]:
        """Streams a generator endpoint's replies from the next replica."""
        index = self._order()[0]
        try:
            async for reply in self._stream_doc[index](raw, timeout=timeout, metadata=metadata or None):
                yield reply
        except grpc.aio.AioRpcError as exc:
            raise upstream_error(exc, self.node.name, self.node.addresses[index]) from exc

    async def endpoints(self, timeout: float, wait_for_ready: bool = False) -> request_pb2.EndpointsInfo:
        """Asks every replica for its endpoints; returns the first answer, raises if any is down."""
        info: request_pb2.EndpointsInfo | None = None
        for index, call in enumerate(self._endpoints):
            try:
                info = await call(empty_pb2.Empty(), timeout=timeout, wait_for_ready=wait_for_ready)
            except grpc.aio.AioRpcError as exc:
                raise upstream_error(exc, self.node.name, self.node.addresses[index]) from exc
        assert info is not None
        return info

    async def close(self) -> None:
        """Closes every channel."""
        for channel in self._channels:
            await channel.close()
