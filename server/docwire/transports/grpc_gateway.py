"""The gateway's rpcs over gRPC: the core's methods wrapped into grpc.aio method handlers.

Same shape as the other transports: the call -> ``RequestContext`` (``GrpcContext``,
which reads the ``grpc.aio.ServicerContext`` only when asked) -> the core -> replies;
a ``DocwireError`` the core raises ends the call with its status code and its class
named in trailing metadata (``abort``), here and nowhere else.

The streaming handlers are coroutines that write each reply (grpc.aio's reader-writer
form) rather than async generators around the core's: grpc.aio writes a generator's
replies with the same ``write``, so wrapping costs no extra step per reply.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any
from urllib.parse import unquote

import grpc
from google.protobuf import empty_pb2

from docwire.gateway.context import Metadata, RequestContext
from docwire.gateway.service import GatewayServicer
from docwire.transports.grpc_server import abort, call_metadata
from docwire_contract.errors import DocwireError
from docwire_contract.methods import GATEWAY_SERVICE
from docwire_contract.v1 import request_pb2

__all__ = ["GrpcContext", "gateway_handler"]

_Context = grpc.aio.ServicerContext[Any, Any]


class GrpcContext(RequestContext):
    """A gRPC call as the gateway core sees it; the metadata is filtered once, on first use."""

    __slots__ = ("_context", "_metadata")

    def __init__(self, context: _Context) -> None:
        self._context = context
        self._metadata: Metadata | None = None

    def metadata(self) -> Metadata:
        if self._metadata is None:
            self._metadata = call_metadata(self._context)
        return self._metadata

    def time_remaining(self) -> float | None:
        remaining: float | None = self._context.time_remaining()
        return remaining

    def peer(self) -> str:
        """grpc names the peer ``ipv4:127.0.0.1:5555`` or ``ipv6:%5B::1%5D:5555``: the scheme is dropped."""
        scheme, sep, address = self._context.peer().partition(":")
        return unquote(address) if sep and scheme in ("ipv4", "ipv6") else self._context.peer()

    def cancelled(self) -> bool:
        return self._context.cancelled()


def gateway_handler(core: GatewayServicer) -> grpc.GenericRpcHandler:
    """The generic handler serving ``core``'s rpcs, to register on a grpc.aio server."""

    async def post(raw: bytes, context: _Context) -> bytes:
        try:
            return await core.post(raw, GrpcContext(context))
        except DocwireError as error:
            await abort(context, error)

    async def stream(requests: AsyncIterator[bytes], context: _Context) -> None:
        await _write_all(core.stream(requests, GrpcContext(context)), context)

    async def stream_doc(raw: bytes, context: _Context) -> None:
        await _write_all(core.stream_doc(raw, GrpcContext(context)), context)

    async def dry_run(_: empty_pb2.Empty, context: _Context) -> request_pb2.Status:
        return await core.dry_run()

    async def status(_: empty_pb2.Empty, context: _Context) -> request_pb2.ServerInfo:
        return core.status()

    async def endpoints(_: empty_pb2.Empty, context: _Context) -> request_pb2.EndpointsInfo:
        return core.endpoints_info

    return grpc.method_handlers_generic_handler(
        GATEWAY_SERVICE,
        {
            "Post": grpc.unary_unary_rpc_method_handler(post),
            "Stream": grpc.stream_stream_rpc_method_handler(stream),
            "StreamDoc": grpc.unary_stream_rpc_method_handler(stream_doc),
            "DryRun": grpc.unary_unary_rpc_method_handler(
                dry_run,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=request_pb2.Status.SerializeToString,
            ),
            "Status": grpc.unary_unary_rpc_method_handler(
                status,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=request_pb2.ServerInfo.SerializeToString,
            ),
            "Endpoints": grpc.unary_unary_rpc_method_handler(
                endpoints,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=request_pb2.EndpointsInfo.SerializeToString,
            ),
        },
    )


async def _write_all(replies: AsyncGenerator[bytes, None], context: _Context) -> None:
    """Writes every reply of a streaming rpc; a DocwireError ends the call with its status.

    ``aclosing``: when the call is cancelled during a write, the core's generator is closed
    at once (its requests in flight cancelled), as it was when grpc.aio drove it.
    """
    try:
        async with aclosing(replies) as open_replies:
            async for reply in open_replies:
                await context.write(reply)
    except DocwireError as error:
        await abort(context, error)
