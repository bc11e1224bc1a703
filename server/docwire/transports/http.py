"""The HTTP/JSON transport: the gateway's annotated rpcs transcoded by grpc-gateway's rules.

Same shape as the gRPC transport: decode (JSON -> request message) -> core (the
gateway core's own rpc, called with an ``HttpContext`` of the request) -> encode
(reply -> JSON) -> map errors (``status_map``, once). Routes are not written per rpc: each HTTP
binding read from the service's ``google.api.http`` annotations is matched in order,
so an rpc annotated tomorrow is served with no new code here. Server-streaming rpcs
answer as server-sent events (``event: update`` per reply, ``event: end`` last).

Two conventions of the incumbent are kept on top of grpc-gateway's: documents are
plain JSON objects (``document_json``), and the header's fields may be given at the
top level of a body (``{"execEndpoint": "/x", "data": [...]}``). A third is jina.Client's
``stream_doc``: a GET to a server-streaming route *with a body* (``_jina_document``) sends
the document itself as that body and reads each ``update`` event's data as a bare document,
so such a request gets that framing; every other form gets the whole reply per event.
A fourth is jina's HTTP client with docarray v1 (clip_client's): its documents are recognised
and translated both ways by ``legacy_json``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Container, Mapping, Sequence
from typing import Any

import uvicorn
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from docwire.gateway.auth import TokenCheck
from docwire.gateway.service import GatewayServicer
from docwire.transports import openapi
from docwire.transports.body_limit import BodyLimit
from docwire.transports.document_json import DocumentJson, dumps
from docwire.transports.graphql_route import GRAPHQL_PATH, GraphqlRoute
from docwire.transports.grpc_server import PortUnavailable
from docwire.transports.http_auth import TokenGate
from docwire.transports.http_context import HttpContext
from docwire.transports.http_errors import error_body, error_response, json_response
from docwire.transports.http_timeouts import read_timeout_protocol
from docwire.transports.json_requests import TOO_DEEP, SchemaDocuments, message_from_json, parse_json
from docwire.transports.json_requests import json_field as _field
from docwire.transports.json_requests import message_to_json as _message_to_json
from docwire.transports.json_requests import set_path as _insert
from docwire.transports.legacy_json import docs_from_legacy_json, docs_to_legacy_json, is_legacy_json
from docwire.transports.transcoding import Binding, bindings
from docwire_contract.conventions import normalize_endpoint
from docwire_contract.errors import (
    BadRequest,
    DocwireError,
    EndpointNotFound,
    MethodNotAllowed,
    error_from_reply_status,
    error_from_status,
)
from docwire_contract.status_map import http_status_of
from docwire_contract.v1 import document_pb2, request_pb2

__all__ = ["HttpServer", "HttpTranscoder", "start_http_server"]

_DOC = document_pb2.Doc.DESCRIPTOR
#: The verbs the catch-all route hands to ``_dispatch`` (Starlette answers others with a bare 405).
_EVERY_VERB = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class HttpTranscoder:
    """Serves a service's annotated rpcs over HTTP/JSON by calling the gateway core's rpcs of the same names.

    Args:
        service: the service descriptor whose ``google.api.http`` annotations give the routes.
        gateway: the gateway core (its ``calls()`` by method name, its discovered endpoints).
        version: what ``/openapi.json`` reports as the API's version.
    """

    def __init__(self, service: ServiceDescriptor, gateway: GatewayServicer, version: str) -> None:
        self._bindings = bindings(service)
        self._gateway = gateway
        self._calls = gateway.calls()
        self._version = version
        self._documents = SchemaDocuments(self._endpoints)

    def _endpoints(self) -> request_pb2.EndpointsInfo:
        return self._gateway.endpoints_info

    def documents(self) -> DocumentJson:
        """The JSON <-> document converter for the current schemas (rebuilt when discovery changes them)."""
        return self._documents()

    def app(self) -> Starlette:
        """The ASGI application: the contract's routes plus liveness, OpenAPI, Swagger UI and Redoc."""
        return Starlette(
            routes=[
                Route("/", self._liveness, methods=["GET"]),
                Route("/openapi.json", self._openapi, methods=["GET"]),
                Route("/docs", self._swagger, methods=["GET"]),
                Route("/redoc", self._redoc, methods=["GET"]),
                Mount(openapi.ASSETS_PATH, StaticFiles(directory=openapi.assets_directory()), name="assets"),
                Route(GRAPHQL_PATH, GraphqlRoute(self._gateway, self.documents)),  # strawberry loads on first use
                # Every verb: one the path does not take is a 405 naming those it does (``_match``).
                Route("/{path:path}", self._dispatch, methods=_EVERY_VERB),
            ],
            exception_handlers={RecursionError: _too_deep},
        )

    async def _liveness(self, request: Request) -> Response:
        return json_response({})

    async def _openapi(self, request: Request) -> Response:
        return json_response(openapi.document(self._bindings, self._endpoints(), self._version))

    async def _swagger(self, request: Request) -> Response:
        return HTMLResponse(openapi.swagger_page("/openapi.json"))

    async def _redoc(self, request: Request) -> Response:
        return HTMLResponse(openapi.redoc_page("/openapi.json"))

    def _match(self, request: Request) -> tuple[Binding, dict[str, str]]:
        """The binding a request takes. Where rpcs share a verb and path (``POST /{endpoint}`` is Post and
        StreamDoc), ``Accept: text/event-stream`` picks the server-streaming one, anything else the other.

        A path naming an endpoint (``/{header.exec_endpoint}``) matches only the Flow's discovered
        endpoints, as the incumbent makes a route of each: an executor's default (a bare ``@requests``)
        takes any endpoint sent to ``/post`` or over gRPC, but answers on no path beyond ``/default``,
        so ``GET /metrics`` is a 404 rather than a run of the executor.

        Raises:
            EndpointNotFound: no route has this path; the message names the endpoints.
            MethodNotAllowed: routes have this path, none with this verb; it names their verbs.
        """
        verb, path = request.method, request.url.path
        wants_events = "text/event-stream" in request.headers.get("accept", "")
        endpoints = self._endpoints().endpoints
        allowed = []
        found: list[tuple[Binding, dict[str, str]]] = []
        for binding in self._bindings:
            fields = binding.path.match(path)
            if fields is None or not _names_a_known_endpoint(fields, endpoints):
                continue
            if binding.verb == verb:
                found.append((binding, fields))
            else:
                allowed.append(binding.verb)
        if found:
            return next((each for each in found if each[0].method.server_streaming == wants_events), found[0])
        if allowed:
            verbs = tuple(sorted(set(allowed)))
            raise MethodNotAllowed(f"no route {verb} {path}; use {' or '.join(verbs)}", verbs)
        raise EndpointNotFound(f"no route {verb} {path}; endpoints: {', '.join(endpoints) or '(none)'}")

    async def _dispatch(self, request: Request) -> Response:
        try:
            binding, fields = self._match(request)
            jina_document = await _jina_document(request, binding)
            message, legacy = await self._decode(request, binding, fields)
            name = binding.method.name
            context = HttpContext(request)
            reply_class = message_factory.GetMessageClass(binding.method.output_type)
            if (stream := self._calls.server_streaming.get(name)) is not None:
                replies = aiter(stream(message.SerializeToString(), context))
                # Wait for the first reply: a call that fails before it answers gets a real HTTP error status.
                first = await anext(replies, None)
                if first is None:
                    return StreamingResponse(iter([_END_EVENT]), media_type="text/event-stream")
                reply = reply_class.FromString(first)
                if _failed(reply):
                    return self._reply(reply)
                events = self._events(reply, replies, reply_class, bare=jina_document is not None)
                return StreamingResponse(events, media_type="text/event-stream")
            call = self._calls.unary.get(name)
            if call is None:
                raise BadRequest(f"{name} is a client-streaming rpc; HTTP serves only unary ones")
            reply = reply_class.FromString(await call(message.SerializeToString(), context))
        except DocwireError as error:
            return self._error(error)
        return self._reply(reply, legacy=legacy)

    async def _decode(self, request: Request, binding: Binding, fields: Mapping[str, str]) -> tuple[Message, bool]:
        """The request message, and whether its documents came as docarray v1's (to answer in kind)."""
        descriptor = binding.method.input_type
        document_field = next((f for f in descriptor.fields if f.message_type is _DOC), None)
        obj: dict[str, Any] = {}
        if binding.body:
            raw = await request.body()
            body = parse_json(raw, "the body") if raw.strip() else {}
            if binding.body == "*":
                if not isinstance(body, dict):
                    raise BadRequest(f"the body must be a JSON object, not {type(body).__name__}")
                obj = dict(body)
            else:
                obj = {binding.body: body}
        elif document_field is not None and (raw := await request.body()).strip():
            obj = _document_request(parse_json(raw, "the body"), document_field)
        header_field = _field(descriptor, "header")
        header_type = header_field.message_type if header_field is not None else None
        for key, value in request.query_params.items():
            top = key.split(".")[0]
            if _field(descriptor, top) is not None or document_field is None:
                _insert(obj, key, value)
            elif header_type is not None and _field(header_type, top) is not None:  # ?exec_endpoint=/hello
                _insert(obj, key, value)  # lifted into the header below
            else:  # the incumbent's GET /{endpoint}?text=hello: unknown parameters are document fields
                obj.setdefault(document_field.json_name, {})[key] = value
        for path, value in fields.items():
            _insert(obj, path, value)
        legacy = is_legacy_json(obj.get(_DATA))
        if legacy:
            obj[_DATA] = docs_from_legacy_json(obj[_DATA])
        return message_from_json(descriptor, obj, self.documents()), legacy

    def _error_body(self, error: DocwireError) -> dict[str, Any]:
        """The JSON an error travels as, in a response body and in an SSE ``error`` event alike."""
        body = error_body(error)
        if isinstance(error, EndpointNotFound):
            body["endpoints"] = list(self._endpoints().endpoints)
        return body

    def _error(self, error: DocwireError) -> Response:
        response = error_response(error, self._error_body(error))
        if isinstance(error, MethodNotAllowed):
            response.headers["Allow"] = ", ".join(error.allowed)
        return response

    def _reply(self, reply: Message, *, legacy: bool = False) -> Response:
        """A reply as JSON; one carrying an error status (an executor's exception) gets a non-2xx status.
        ``legacy``: its documents as docarray v1 objects (the request's were)."""
        content = _message_to_json(reply)
        if legacy and _DATA in content:
            content[_DATA] = docs_to_legacy_json(content[_DATA])
        if not _failed(reply):
            return json_response(content)
        status = reply.header.status  # type: ignore[attr-defined]
        named = error_from_status(status.exception.name, status.description)
        return json_response(content, http_status_of(named) if named is not None else 500)

    async def _events(
        self,
        first: Message,
        replies: AsyncIterator[bytes],
        reply_class: type[Message],
        *,
        bare: bool = False,
    ) -> AsyncIterator[bytes]:
        """``event: update`` per reply, then ``event: end``. An error after the first reply (the response
        status is sent by then) is an ``event: error`` whose data is what an error response's body holds,
        plus the reply's header when an executor raised; the stream still ends with ``event: end``.
        ``bare``: each update's data is the reply's document alone (jina.Client's framing)."""
        reply: Message | None = first
        try:
            while reply is not None:
                content = _message_to_json(reply)
                if _failed(reply):
                    status = reply.header.status  # type: ignore[attr-defined]
                    yield _event("error", {**self._error_body(error_from_reply_status(status)), **content})
                    break
                yield _event("update", content.get("document", {}) if bare else content)
                raw = await anext(replies, None)
                reply = None if raw is None else reply_class.FromString(raw)
        except DocwireError as error:
            yield _event("error", self._error_body(error))
        yield _END_EVENT


_END_EVENT = b"event: end\r\n\r\n"

#: The request field holding documents (``DataRequest.data``), where docarray v1's may come.
_DATA = "data"

#: The request field a path names an endpoint with (``POST /{header.exec_endpoint=**}``).
_ENDPOINT_FIELD = "header.exec_endpoint"


def _document_request(body: Any, document: FieldDescriptor) -> dict[str, Any]:
    """The request a body sent with a GET to a document-taking rpc (StreamDoc) stands for.

    HTTP does not give a GET body a meaning, but the incumbent reads one for its streaming
    endpoints and its client sends the document there (``GET /hello`` with ``{"text": "hi"}``).
    A body with a ``document`` key is the request itself, as ``POST`` takes it
    (``{"document": {...}, "parameters": {...}}``); any other object is the document alone.

    Raises:
        BadRequest: the body is not a JSON object.
    """
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, not {type(body).__name__}")
    if document.name in body or document.json_name in body:
        return dict(body)
    return {document.json_name: body}


def _names_a_known_endpoint(fields: Mapping[str, str], endpoints: Container[str]) -> bool:
    """Whether a path's fields name no endpoint, or one of ``endpoints`` (``search`` is ``/search``)."""
    named = fields.get(_ENDPOINT_FIELD)
    return named is None or normalize_endpoint(named) in endpoints


async def _jina_document(request: Request, binding: Binding) -> Any:
    """The document of jina.Client's ``stream_doc`` request, or None for any other request.

    jina.Client sends ``GET /{endpoint}`` with ``Accept: text/event-stream`` and the document
    itself as a JSON body; no other form puts a body on a GET (docwire's own is
    ``GET /{endpoint}?text=hi``, or ``POST`` with ``{"document": {...}}``).

    Raises:
        BadRequest: the body is not a JSON object.
    """
    if request.method != "GET" or not binding.method.server_streaming:
        return None
    raw = await request.body()
    if not raw.strip():
        return None
    document = parse_json(raw, "the body")
    if not isinstance(document, dict):
        raise BadRequest(f"the body must be a JSON object (the document), not {type(document).__name__}")
    return None if "document" in document else document  # {"document": ...} is docwire's request form


def _event(name: str, data: Any) -> bytes:
    """One server-sent event (CRLF framing; JSON data has no raw newlines)."""
    return b"event: " + name.encode() + b"\r\ndata: " + dumps(data) + b"\r\n\r\n"


def _failed(reply: Message) -> bool:
    """Whether a reply carries an error status (an executor raised)."""
    header = getattr(reply, "header", None)
    return header is not None and header.HasField("status") and header.status.code != request_pb2.Status.CODE_SUCCESS


class HttpServer:
    """A uvicorn server running in the current event loop, on a socket bound before it starts."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket) -> None:
        self._server = server
        self._socket = sock
        self.port: int = sock.getsockname()[1]
        self._main: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = self._server.config
        config.load()
        self._server.lifespan = config.lifespan_class(config)
        await self._server.startup(sockets=[self._socket])
        self._main = asyncio.create_task(self._server.main_loop())

    async def stop(self) -> None:
        """Stops taking connections and waits for the requests under way."""
        self._server.should_exit = True
        if self._main is not None:
            await self._main
        await self._server.shutdown(sockets=[self._socket])
        self._socket.close()


async def start_http_server(
    app: Starlette,
    host: str,
    port: int,
    *,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    cors_origins: Sequence[str] = (),
    ws_max_size: int = 16 * 1024 * 1024,
    max_body_bytes: int | None = None,
    token_check: TokenCheck | None = None,
    read_timeout: float = 60.0,
) -> HttpServer:
    """Binds ``host:port`` (0: the OS chooses) and serves ``app`` there.

    With ``ssl_certfile`` and ``ssl_keyfile`` (PEM) it serves HTTPS only. ``cors_origins``
    (``"*"`` for any) lets browsers on those origins call it: preflights are answered and
    replies carry ``Access-Control-Allow-Origin``; empty, no CORS headers are sent.
    WebSocket routes are served by uvicorn's websockets (sans-I/O) protocol, without
    per-message compression; a message over ``ws_max_size`` bytes closes its socket with 1009.
    A request body over ``max_body_bytes`` is refused with 413 (``BodyLimit``); None: no cap.
    With ``token_check``, requests to protected paths need a token (``TokenGate``; 401 before
    the body is read). A request (headers and body) must arrive within ``read_timeout`` seconds of
    its first byte, or of its connection opening (``http_timeouts``: 408, then the connection closes).

    Raises:
        PortUnavailable: the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT only: a live listener still clashes
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortUnavailable(f"cannot bind {host}:{port} for HTTP: {exc.strerror or exc}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    served: ASGIApp = app if max_body_bytes is None else BodyLimit(app, max_body_bytes)
    if token_check is not None:
        served = TokenGate(served, token_check)
    if cors_origins:
        served = CORSMiddleware(served, allow_origins=list(cors_origins), allow_methods=["*"], allow_headers=["*"])
    config = uvicorn.Config(
        served,
        lifespan="off",
        log_level="warning",
        access_log=False,
        http=read_timeout_protocol(read_timeout),
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        ws="websockets-sansio",
        ws_max_size=ws_max_size,
        ws_per_message_deflate=False,  # deflating tensors costs ~25x the throughput; gRPC does not compress either
    )
    server = HttpServer(uvicorn.Server(config), sock)
    await server.start()
    return server


async def _too_deep(request: Request, exc: Exception) -> Response:
    """A request whose values nest deeper than reading them allows (a JSON body's thousands of ``[``, a document's
    tags a few hundred dicts deep, a GraphQL body's variables): the caller's error, not a 500."""
    return error_response(BadRequest(f"the request: {TOO_DEEP}"))
