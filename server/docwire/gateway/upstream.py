"""Channels from the gateway to executor replicas: round-robin, failover, errors that name the replica."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from typing import TypeVar

import grpc
from google.protobuf import empty_pb2
from grpc_health.v1 import health_pb2

from docwire.gateway.balancing import balancing_options, is_balanced
from docwire.gateway.call_errors import call_error, upstream_error
from docwire.gateway.discovery import ExecutorUnreachable, wait_for_answer
from docwire.gateway.router import ExecutorNode
from docwire.gateway.splice import Reply, as_bytes
from docwire.transports.grpc_server import PROCESS_STREAM_FRAMING_BYTES, channel_options
from docwire.transports.tls import MutualTls
from docwire_contract.methods import ExecutorMethods
from docwire_contract.v1 import request_pb2

__all__ = ["RECONNECT_OPTIONS", "ReplicaPool"]

_Request = TypeVar("_Request")
_Reply = TypeVar("_Reply")

_HEALTH_CHECK = "/grpc.health.v1.Health/Check"
_SERVING = health_pb2.HealthCheckResponse.SERVING

#: How soon a channel to a replica that went away tries again: grpc's defaults back off up to 120 s, so a
#: replica restarted on its port (``orchestration.supervisor``) would wait minutes for traffic. Replicas
#: are on the same host or cluster: retrying every second at most costs nothing.
RECONNECT_OPTIONS: list[tuple[str, int]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def _channel(
    address: str, options: Sequence[tuple[str, str | int]], credentials: grpc.ChannelCredentials | None
) -> grpc.aio.Channel:
    """A channel to one replica: mutual TLS with ``credentials`` (``transports.tls``), else plaintext."""
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=options)
    return grpc.aio.secure_channel(address, credentials, options=options)


def _never_delivered(exc: grpc.aio.AioRpcError) -> bool:
    """Whether the call failed while connecting, before any byte of the request was sent."""
    details = (exc.details() or "").lower()
    return exc.code() == grpc.StatusCode.UNAVAILABLE and "failed to connect" in details


class ReplicaPool:
    """The replicas of one executor, called in turn; a replica that is down is skipped."""

    def __init__(self, node: ExecutorNode, max_message_bytes: int, tls: MutualTls | None = None) -> None:
        self.node = node
        self._tls = tls
        credentials = None if tls is None else tls.channel_credentials()
        options = [*channel_options(max_message_bytes + PROCESS_STREAM_FRAMING_BYTES), *RECONNECT_OPTIONS]
        self._channels = [
            _channel(address, [*options, *balancing_options(address)], credentials) for address in node.addresses
        ]
        # Behind a dns: target gRPC balances each call over the replicas: a ProcessStream would hold one.
        self._streamable = [not is_balanced(address) for address in node.addresses]
        self._process: list[grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = [
            ch.unary_unary(ExecutorMethods.PROCESS) for ch in self._channels
        ]
        # Results stay bytes: the gateway reads their few top-level fields (``replica_streams.result_parts``).
        self._process_stream: list[grpc.aio.StreamStreamMultiCallable[bytes, bytes]] = [
            ch.stream_stream(ExecutorMethods.PROCESS_STREAM) for ch in self._channels
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
        self._health = [
            ch.unary_unary(
                _HEALTH_CHECK,
                request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                response_deserializer=health_pb2.HealthCheckResponse.FromString,
            )
            for ch in self._channels
        ]
        self._turn = itertools.cycle(range(len(self._channels)))

    def order(self) -> Sequence[int]:
        """The replicas to try for the next request, in turn: each call starts one further (round-robin)."""
        first = next(self._turn)
        count = len(self._channels)
        return [(first + i) % count for i in range(count)]

    async def process(
        self,
        raw: Reply,
        timeout: float | None,
        metadata: Sequence[tuple[str, str]] = (),
        order: Sequence[int] | None = None,
    ) -> bytes:
        """Runs one request as a unary call, passing ``metadata`` (the client's headers) on.

        The replicas are tried in ``order`` (by default the next turn's, see ``order()``).
        A replica that refuses the connection is skipped for the next one: the request
        never reached it. A replica that fails once the request may have reached it is
        reported, not retried, so no request runs twice.
        """
        failure: grpc.aio.AioRpcError | None = None
        index = 0
        for index in order if order is not None else self.order():
            try:
                reply: bytes = await self._process[index](as_bytes(raw), timeout=timeout, metadata=metadata or None)
                return reply
            except grpc.aio.AioRpcError as exc:
                if not _never_delivered(exc):
                    raise upstream_error(exc, self.node.name, self.node.addresses[index]) from exc
                failure = exc
        assert failure is not None
        raise upstream_error(failure, self.node.name, self.node.addresses[index]) from failure

    def connected(self, index: int) -> bool:
        """Whether the channel to replica ``index`` is connected (never for a ``dns:`` target: see ``balancing``)."""
        return self._streamable[index] and self._channels[index].get_state() == grpc.ChannelConnectivity.READY

    def process_stream_call(
        self, index: int, metadata: Sequence[tuple[str, str]]
    ) -> grpc.aio.StreamStreamCall[bytes, bytes]:
        """A new ProcessStream call to replica ``index``, carrying ``metadata`` (the client's headers)."""
        return self._process_stream[index](metadata=metadata or None)

    async def stream_doc(
        self, raw: bytes, timeout: float | None, metadata: Sequence[tuple[str, str]] = ()
    ) -> AsyncIterator[bytes]:
        """Streams a generator endpoint's replies from the next replica."""
        index = self.order()[0]
        try:
            async for reply in self._stream_doc[index](raw, timeout=timeout, metadata=metadata or None):
                yield reply
        except grpc.aio.AioRpcError as exc:
            raise upstream_error(exc, self.node.name, self.node.addresses[index]) from exc

    async def endpoints(self, timeout: float, wait_for_ready: bool = False) -> request_pb2.EndpointsInfo:
        """Asks the first replica for its endpoints, every other whether it serves, all at once; raises if one is down.

        The replicas serve one class, and the answer costs a replica its endpoints' JSON schemas
        (pydantic: ~20 ms of CPU, the most of a replica's start): one answers, the others tell
        their gRPC health.
        """
        first = self._ask(0, self._endpoints[0], empty_pb2.Empty(), timeout, wait_for_ready)
        others = asyncio.gather(*(self._serving(i, timeout, wait_for_ready) for i in range(1, len(self._endpoints))))
        info, _ = await asyncio.gather(first, others)
        return info

    async def _serving(self, index: int, timeout: float, wait_for_ready: bool) -> None:
        """Returns once replica ``index`` says SERVING (waiting up to ``timeout`` s with ``wait_for_ready``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = max(deadline - loop.time(), 0.001)
            reply = await self._ask(
                index, self._health[index], health_pb2.HealthCheckRequest(), remaining, wait_for_ready
            )
            if reply.status == _SERVING:
                return
            if not wait_for_ready or loop.time() >= deadline:
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                details = f"its health check says {status}"
                raise call_error(grpc.StatusCode.UNAVAILABLE, details, "", self.node.name, self.node.addresses[index])
            await asyncio.sleep(0.05)

    async def _ask(
        self,
        index: int,
        call: grpc.aio.UnaryUnaryMultiCallable[_Request, _Reply],
        request: _Request,
        timeout: float,
        wait_for_ready: bool,
    ) -> _Reply:
        address = self.node.addresses[index]
        try:
            waiting = wait_for_answer(call, request, timeout, address, self._tls) if wait_for_ready else None
            return await (waiting or call(request, timeout=timeout))
        except grpc.aio.AioRpcError as exc:
            raise upstream_error(exc, self.node.name, address) from exc
        except ExecutorUnreachable as exc:
            raise call_error(grpc.StatusCode.UNAVAILABLE, str(exc), "", self.node.name, address) from exc

    async def close(self) -> None:
        """Closes every channel."""
        for channel in self._channels:
            await channel.close()
