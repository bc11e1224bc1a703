"""The gateway's rpcs over gRPC: the core's methods wrapped into grpc.aio method handlers.

Same shape as the other transports: the call -> ``RequestContext`` (``GrpcContext``,
which reads the ``grpc.aio.ServicerContext`` only when asked) -> the core -> replies;
a ``DocwireError`` the core raises ends the call with its status code and its class
named in trailing metadata (``abort``), here and nowhere else.

The streaming handlers are coroutines that write each reply (grpc.aio's reader-writer
form) rather than async generators around the core's: grpc.aio writes a generator's
replies with the same ``write``, so wrapping costs no extra step per reply.

The same method handlers are also served under Jina's method paths (``proto/jina``:
``/jina.JinaInfoRPC/_status`` is Status, ...), so Jina 3.x clients work unchanged: the messages
are the same wire. Three have a handler of their own: ``Call`` is Stream with the call options
Jina's clients send as metadata (``__results_in_order__``, ``__prefetch__``),
``process_single_data`` is Post, and ``process_data`` is Post on a list of one request.

These three also accept docarray v1 documents (clip_client 0.8.3 sends them):
``docwire_contract.legacy`` translates them at this edge, both ways, so executors and the
core only ever see docwire's documents; docwire's own paths take docwire's documents alone.

The ``jina`` descriptors are loaded here, in the gateway process, and never by the client:
a process that also imports the real ``jina`` package would find its symbols taken.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any, TypeAlias
from urllib.parse import unquote

import grpc
from google.protobuf import empty_pb2

from docwire.gateway.context import Metadata, RequestContext
from docwire.gateway.service import GatewayServicer
from docwire.transports.grpc_server import abort, call_metadata
from docwire_contract.errors import BadRequest, DocwireError
from docwire_contract.jina import jina_pb2
from docwire_contract.legacy import is_legacy_request, reply_to_legacy, request_from_legacy, requests_of_list
from docwire_contract.methods import GATEWAY_SERVICE
from docwire_contract.v1 import request_pb2

__all__ = ["GATEWAY_SERVICE_NAMES", "JINA_ALIASES", "PROTECTED_PATHS", "GrpcContext", "gateway_handler"]

_Context = grpc.aio.ServicerContext[Any, Any]
#: grpc's stubs make RpcMethodHandler generic; at run time it is not.
_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"

_JINA_SERVICES = jina_pb2.DESCRIPTOR.services_by_name

#: Jina's method paths and the GatewayService rpc each one is (``Call`` and ``process_data`` apart).
JINA_ALIASES: Mapping[str, str] = {
    f"/{_JINA_SERVICES[service].full_name}/{method}": rpc
    for service, method, rpc in (
        ("JinaSingleDocumentRequestRPC", "stream_doc", "StreamDoc"),
        ("JinaGatewayDryRunRPC", "dry_run", "DryRun"),
        ("JinaInfoRPC", "_status", "Status"),
        ("JinaDiscoverEndpointsRPC", "endpoint_discovery", "Endpoints"),
    )
}
_CALL = f"/{_JINA_SERVICES['JinaRPC'].full_name}/Call"
_PROCESS_DATA = f"/{_JINA_SERVICES['JinaDataRequestRPC'].full_name}/process_data"
_PROCESS_SINGLE_DATA = f"/{_JINA_SERVICES['JinaSingleDataRequestRPC'].full_name}/process_single_data"
#: Call options jina.Client sends as metadata on Call: for the gateway, never passed on to executors.
_IN_ORDER_KEY = "__results_in_order__"
_PREFETCH_KEY = "__prefetch__"

#: The rpcs a token protects when the gateway has tokens (``gateway.auth``): those that run executors or
#: show the endpoints, under docwire's paths and Jina's. DryRun and Status stay open (readiness, versions).
_PROTECTED_RPCS = ("Post", "Stream", "StreamDoc", "Endpoints")
PROTECTED_PATHS: frozenset[str] = frozenset(
    (
        *(f"/{GATEWAY_SERVICE}/{rpc}" for rpc in _PROTECTED_RPCS),
        *(path for path, rpc in JINA_ALIASES.items() if rpc in _PROTECTED_RPCS),
        _CALL,
        _PROCESS_DATA,
        _PROCESS_SINGLE_DATA,
    )
)

#: Every service the gateway's gRPC port serves, for reflection and health: docwire's, then Jina's.
GATEWAY_SERVICE_NAMES: tuple[str, ...] = (GATEWAY_SERVICE, *(service.full_name for service in _JINA_SERVICES.values()))


class GrpcContext(RequestContext):
    """A gRPC call as the gateway core sees it; the metadata is filtered once, on first use."""

    __slots__ = ("_context", "_metadata", "_withheld")

    def __init__(self, context: _Context, withheld: frozenset[str] = frozenset()) -> None:
        """``withheld``: metadata keys meant for the gateway itself, left out of ``metadata()``."""
        self._context = context
        self._metadata: Metadata | None = None
        self._withheld = withheld

    def metadata(self) -> Metadata:
        if self._metadata is None:
            found = call_metadata(self._context)
            self._metadata = tuple(pair for pair in found if pair[0] not in self._withheld) if self._withheld else found
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
    """The generic handler serving ``core``'s rpcs under docwire's and Jina's paths, for a grpc.aio server."""

    async def post(raw: bytes, context: _Context) -> bytes:
        try:
            return await core.post(raw, GrpcContext(context))
        except DocwireError as error:
            await abort(context, error)

    async def stream(requests: AsyncIterator[bytes], context: _Context) -> None:
        await _write_all(core.stream(requests, GrpcContext(context)), context)

    async def call(requests: AsyncIterator[bytes], context: _Context) -> None:
        options = {key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)}
        prefetch = options.get(_PREFETCH_KEY, "")
        legacy = _LegacyStream()
        replies = core.stream(
            legacy.requests(requests),
            GrpcContext(context, withheld=frozenset((_IN_ORDER_KEY, _PREFETCH_KEY))),
            prefetch=int(prefetch) if prefetch.isdecimal() and int(prefetch) > 0 else None,
            in_order=options.get(_IN_ORDER_KEY) == "true",
        )
        await _write_all(legacy.replies(replies), context)

    async def stream_doc(raw: bytes, context: _Context) -> None:
        await _write_all(core.stream_doc(raw, GrpcContext(context)), context)

    async def dry_run(_: empty_pb2.Empty, context: _Context) -> request_pb2.Status:
        return await core.dry_run()

    async def status(_: empty_pb2.Empty, context: _Context) -> request_pb2.ServerInfo:
        return core.status()

    async def endpoints(_: empty_pb2.Empty, context: _Context) -> request_pb2.EndpointsInfo:
        return core.endpoints_info

    async def jina_post(raw: bytes, context: _Context) -> bytes:
        try:
            return await _post_either_docarray(core, raw, GrpcContext(context))
        except DocwireError as error:
            await abort(context, error)

    async def process_data(raw: bytes, context: _Context) -> bytes:
        try:
            return await _post_either_docarray(core, _only_request(raw), GrpcContext(context))
        except DocwireError as error:
            await abort(context, error)

    rpcs: dict[str, _Handler] = {
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
    }
    paths = {f"/{GATEWAY_SERVICE}/{name}": handler for name, handler in rpcs.items()}
    paths |= {path: rpcs[rpc] for path, rpc in JINA_ALIASES.items()}
    paths[_CALL] = grpc.stream_stream_rpc_method_handler(call)
    paths[_PROCESS_DATA] = grpc.unary_unary_rpc_method_handler(process_data)
    paths[_PROCESS_SINGLE_DATA] = grpc.unary_unary_rpc_method_handler(jina_post)
    return _PathHandler(paths)


class _PathHandler(grpc.GenericRpcHandler):
    """Method handlers by full method path, across services (one dictionary look-up per call)."""

    def __init__(self, handlers: Mapping[str, _Handler]) -> None:
        self._handlers = dict(handlers)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> _Handler | None:
        return self._handlers.get(handler_call_details.method)


async def _post_either_docarray(core: GatewayServicer, raw: bytes, context: GrpcContext) -> bytes:
    """``core.post`` for a request with docwire's or docarray v1's documents; the reply in the request's kind."""
    if not is_legacy_request(raw):
        return await core.post(raw, context)
    return reply_to_legacy(await core.post(request_from_legacy(raw), context))


class _LegacyStream:
    """One streaming call's translation of docarray v1 documents, both ways (see the module's docstring).

    A stream is legacy from its first request with docarray v1 documents on: from then on every
    reply goes back as v1 documents. A request without documents reads the same either way.
    """

    __slots__ = ("_legacy",)

    def __init__(self) -> None:
        self._legacy = False

    async def requests(self, requests: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The requests, each with docwire's documents."""
        async for request in requests:
            if is_legacy_request(request):
                self._legacy = True
                yield request_from_legacy(request)
            else:
                yield request

    async def replies(self, replies: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
        """The replies, with docarray v1 documents once the stream is legacy; closing this closes ``replies``."""
        async with aclosing(replies) as open_replies:
            async for reply in open_replies:
                yield reply_to_legacy(reply) if self._legacy else reply


def _only_request(raw: bytes) -> bytes:
    """The one request of a serialized ``jina.DataRequestList``, as it came.

    Jina's executors merge several requests (one per upstream branch) into one; docwire's
    gateway routes requests one at a time, so a list of any other length is refused.

    Raises:
        BadRequest: the bytes are not a list of exactly one request.
    """
    requests = requests_of_list(raw)
    if len(requests) != 1:
        raise BadRequest(f"process_data takes a list of exactly one request here, not {len(requests)}")
    return requests[0]


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
