"""The HTTP/JSON transport: the gateway's annotated rpcs transcoded by grpc-gateway's rules.

Same shape as the gRPC transport: decode (JSON -> request message) -> core (the rpc's
own in-process handler, the one the gRPC server registers) -> encode (reply -> JSON)
-> map errors (``status_map``, once). Routes are not written per rpc: each HTTP
binding read from the service's ``google.api.http`` annotations is matched in order,
so an rpc annotated tomorrow is served with no new code here. Server-streaming rpcs
answer as server-sent events (``event: update`` per reply, ``event: end`` last).

Two conventions of the incumbent are kept on top of grpc-gateway's: documents are
plain JSON objects (``document_json``), and the header's fields may be given at the
top level of a body (``{"execEndpoint": "/x", "data": [...]}``).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, NoReturn, cast

import grpc
import uvicorn
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from docwire.executor.decorators import DEFAULT_ENDPOINT, normalize_endpoint
from docwire.transports import openapi
from docwire.transports.document_json import DocumentJson, doc_list_to_json, doc_to_json
from docwire.transports.status_map import http_status_of
from docwire.transports.transcoding import Binding, bindings
from docwire.v1 import document_pb2, request_pb2
from docwire_client.errors import ERROR_METADATA_KEY, BadRequest, DocwireError, EndpointNotFound, error_from_status

__all__ = ["HttpServer", "HttpTranscoder", "start_http_server"]

_DOC_LIST = request_pb2.DataContent.DESCRIPTOR
_DOC = document_pb2.Doc.DESCRIPTOR
#: HTTP headers that describe the connection, not the caller's request: never passed on to executors.
_HOP_HEADERS = frozenset({"content-length", "connection", "accept", "keep-alive", "transfer-encoding", "upgrade"})


class _Aborted(Exception):
    """What the in-process call context raises where a gRPC context would end the call."""

    def __init__(self, code: grpc.StatusCode, details: str, error_name: str) -> None:
        super().__init__(details)
        self.error = error_from_status(error_name, details) or DocwireError(details or code.name)
        self.error.grpc_code = code


class _CallContext:
    """The part of ``grpc.aio.ServicerContext`` the gateway's handlers use, for an in-process call."""

    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = tuple(metadata)
        self._trailing: tuple[tuple[str, str], ...] = ()

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def set_trailing_metadata(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._trailing = tuple(metadata)

    async def abort(self, code: grpc.StatusCode, details: str = "", *_: object) -> NoReturn:
        name = next((str(value) for key, value in self._trailing if key == ERROR_METADATA_KEY), "")
        raise _Aborted(code, details, name)


def _json_response(content: Any, status: int = 200) -> Response:
    return Response(json.dumps(content, separators=(",", ":")), status, media_type="application/json")


def _field(descriptor: Descriptor, key: str) -> FieldDescriptor | None:
    return descriptor.fields_by_name.get(key) or next((f for f in descriptor.fields if f.json_name == key), None)


def _insert(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        target = target.setdefault(name, {})
    target[leaf] = value


class HttpTranscoder:
    """Serves a service's annotated rpcs over HTTP/JSON by calling their handlers in-process.

    Args:
        service: the service descriptor whose ``google.api.http`` annotations give the routes.
        handlers: each rpc's handler by method name (``GatewayServicer.method_handlers()``).
        endpoints: returns the Flow's discovered endpoints and schemas.
        versions: what ``/openapi.json`` reports as the API's version.
    """

    def __init__(
        self,
        service: ServiceDescriptor,
        handlers: Mapping[str, grpc.RpcMethodHandler[Any, Any]],
        endpoints: Callable[[], request_pb2.EndpointsInfo],
        version: str,
    ) -> None:
        self._bindings = bindings(service)
        self._handlers = handlers
        self._endpoints = endpoints
        self._version = version
        self._documents: tuple[request_pb2.EndpointsInfo, DocumentJson] | None = None

    def documents(self) -> DocumentJson:
        """The JSON <-> document converter for the current schemas (rebuilt when discovery changes them)."""
        info = self._endpoints()
        if self._documents is None or self._documents[0] is not info:
            self._documents = (info, DocumentJson(json_format.MessageToDict(info.schemas)))
        return self._documents[1]

    def app(self) -> Starlette:
        """The ASGI application: the contract's routes plus liveness, OpenAPI and the Swagger UI."""
        return Starlette(
            routes=[
                Route("/", self._liveness, methods=["GET"]),
                Route("/openapi.json", self._openapi, methods=["GET"]),
                Route("/docs", self._swagger, methods=["GET"]),
                Route("/redoc", self._redoc, methods=["GET"]),
                Mount(openapi.ASSETS_PATH, StaticFiles(directory=str(openapi.swagger_ui_directory())), name="assets"),
                Route("/{path:path}", self._dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            ]
        )

    async def _liveness(self, request: Request) -> Response:
        return _json_response({})

    async def _openapi(self, request: Request) -> Response:
        return _json_response(openapi.document(self._bindings, self._endpoints(), self._version))

    async def _swagger(self, request: Request) -> Response:
        return HTMLResponse(openapi.swagger_page("/openapi.json"))

    async def _redoc(self, request: Request) -> Response:
        return HTMLResponse(openapi.redoc_page("/openapi.json"))

    def _match(self, verb: str, path: str) -> tuple[Binding, dict[str, str]]:
        allowed = []
        for binding in self._bindings:
            fields = binding.path.match(path)
            if fields is None:
                continue
            if binding.verb == verb:
                return binding, fields
            if not binding.path.greedy:
                allowed.append(binding.verb)
        hint = f"; use {' or '.join(sorted(set(allowed)))}" if allowed else ""
        raise EndpointNotFound(f"no route {verb} {path}{hint}")

    async def _dispatch(self, request: Request) -> Response:
        try:
            binding, fields = self._match(request.method, request.url.path)
            message = await self._decode(request, binding, fields)
            handler = self._handlers[binding.method.name]
            context = cast(Any, _CallContext(self._metadata(request)))
            argument = (handler.request_deserializer or (lambda raw: raw))(message.SerializeToString())
            reply_class = message_factory.GetMessageClass(binding.method.output_type)
            serialize = handler.response_serializer or (lambda reply: reply)
            if handler.unary_stream is not None:
                replies = cast(AsyncIterator[Any], handler.unary_stream(argument, context))
                return StreamingResponse(self._events(replies, serialize, reply_class), media_type="text/event-stream")
            if handler.unary_unary is None:
                raise BadRequest(f"{binding.method.name} is a client-streaming rpc; HTTP serves only unary ones")
            reply = reply_class.FromString(serialize(await handler.unary_unary(argument, context)))
        except _Aborted as aborted:
            return self._error(aborted.error)
        except DocwireError as error:
            return self._error(error)
        return self._reply(reply)

    def _metadata(self, request: Request) -> list[tuple[str, str]]:
        return [(key, value) for key, value in request.headers.items() if key not in _HOP_HEADERS]

    async def _decode(self, request: Request, binding: Binding, fields: Mapping[str, str]) -> Message:
        descriptor = binding.method.input_type
        message = message_factory.GetMessageClass(descriptor)()
        obj: dict[str, Any] = {}
        if binding.body:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw.strip() else {}
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                where = (
                    f" at line {exc.lineno} column {exc.colno} (char {exc.pos})"
                    if isinstance(exc, json.JSONDecodeError)
                    else ""
                )
                raise BadRequest(
                    f"the body is not valid JSON{where}: {exc.msg if isinstance(exc, json.JSONDecodeError) else exc}"
                ) from exc
            if binding.body == "*":
                if not isinstance(body, dict):
                    raise BadRequest(f"the body must be a JSON object, not {type(body).__name__}")
                obj = dict(body)
            else:
                obj = {binding.body: body}
        document_field = next((f for f in descriptor.fields if f.message_type is _DOC), None)
        for key, value in request.query_params.items():
            if _field(descriptor, key.split(".")[0]) is not None or document_field is None:
                _insert(obj, key, value)
            else:  # the incumbent's GET /{endpoint}?text=hello: unknown parameters are document fields
                obj.setdefault(document_field.json_name, {})[key] = value
        for path, value in fields.items():
            _insert(obj, path, value)
        self._lift_header(descriptor, obj)
        documents = {}
        for field in descriptor.fields:
            if field.message_type in (_DOC_LIST, _DOC):
                for key in (field.name, field.json_name):
                    if key in obj:
                        documents[field.name] = obj.pop(key)
        try:
            json_format.ParseDict(obj, message)
        except json_format.ParseError as exc:
            raise BadRequest(f"the request does not fit {descriptor.name}: {exc}") from exc
        endpoint = self._endpoint_of(message)
        if endpoint != DEFAULT_ENDPOINT:
            message.header.exec_endpoint = endpoint  # type: ignore[attr-defined]  # "embed" from the path is "/embed"
        converter = self.documents()
        for name, value in documents.items():
            if descriptor.fields_by_name[name].message_type is _DOC:
                getattr(message, name).CopyFrom(converter.encode_one(value, endpoint))
            else:
                getattr(message, name).docs_bytes = converter.encode(value, endpoint)
        return message

    @staticmethod
    def _lift_header(descriptor: Descriptor, obj: dict[str, Any]) -> None:
        """Moves header fields given at the top level (``execEndpoint``) into ``header``."""
        header = _field(descriptor, "header")
        if header is None or header.message_type is None:
            return
        for key in list(obj):
            if _field(descriptor, key) is None and _field(header.message_type, key) is not None:
                obj.setdefault(header.json_name, {})[key] = obj.pop(key)

    @staticmethod
    def _endpoint_of(message: Message) -> str:
        header = getattr(message, "header", None)
        if header is None or not header.HasField("exec_endpoint"):
            return DEFAULT_ENDPOINT
        return normalize_endpoint(header.exec_endpoint)

    def _error(self, error: DocwireError) -> Response:
        body: dict[str, Any] = {
            "code": error.grpc_code.value[0],
            "status": error.grpc_code.name,
            "error": type(error).__name__,
            "message": str(error),
        }
        if isinstance(error, EndpointNotFound):
            body["endpoints"] = list(self._endpoints().endpoints)
        return _json_response(body, http_status_of(error))

    def _reply(self, reply: Message) -> Response:
        content = _message_to_json(reply)
        status = getattr(getattr(reply, "header", None), "status", None)
        if status is None or status.code == request_pb2.Status.CODE_SUCCESS:
            return _json_response(content)
        named = error_from_status(status.exception.name, status.description)
        return _json_response(content, http_status_of(named) if named is not None else 500)

    async def _events(
        self, replies: AsyncIterator[Any], serialize: Callable[[Any], bytes], reply_class: type[Message]
    ) -> AsyncIterator[bytes]:
        try:
            async for reply in replies:
                data = json.dumps(_message_to_json(reply_class.FromString(serialize(reply))), separators=(",", ":"))
                yield f"event: update\r\ndata: {data}\r\n\r\n".encode()
        except _Aborted as aborted:
            yield self._error_event(aborted.error)
        except DocwireError as error:
            yield self._error_event(error)
        yield b"event: end\r\n\r\n"

    def _error_event(self, error: DocwireError) -> bytes:
        body = {"code": error.grpc_code.value[0], "error": type(error).__name__, "message": str(error)}
        return f"event: error\r\ndata: {json.dumps(body)}\r\n\r\n".encode()


def _message_to_json(message: Message) -> dict[str, Any]:
    """A reply as JSON: protobuf's JSON mapping, with documents as plain objects (kept last)."""
    documents: dict[str, Any] = {}
    rest = type(message)()
    rest.CopyFrom(message)
    for field in message.DESCRIPTOR.fields:
        if field.message_type is _DOC_LIST:
            content = getattr(message, field.name)
            kind = content.WhichOneof("documents")
            docs = document_pb2.DocList.FromString(content.docs_bytes) if kind == "docs_bytes" else content.docs
            documents[field.json_name] = doc_list_to_json(docs)
            rest.ClearField(field.name)
        elif field.message_type is _DOC:
            documents[field.json_name] = doc_to_json(getattr(message, field.name))
            rest.ClearField(field.name)
    plain = json_format.MessageToDict(rest, always_print_fields_with_no_presence=True, use_integers_for_enums=True)
    return {**plain, **documents}


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
) -> HttpServer:
    """Binds ``host:port`` (0: the OS chooses) and serves ``app`` there.

    With ``ssl_certfile`` and ``ssl_keyfile`` (PEM) it serves HTTPS only. ``cors_origins``
    (``"*"`` for any) lets browsers on those origins call it: preflights are answered and
    replies carry ``Access-Control-Allow-Origin``; empty, no CORS headers are sent.

    Raises:
        OSError: the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT only: a live listener still clashes
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot bind {host}:{port} for HTTP: {exc}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    served: ASGIApp = app
    if cors_origins:
        served = CORSMiddleware(app, allow_origins=list(cors_origins), allow_methods=["*"], allow_headers=["*"])
    config = uvicorn.Config(
        served,
        lifespan="off",
        log_level="warning",
        access_log=False,
        http="h11",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
    server = HttpServer(uvicorn.Server(config), sock)
    await server.start()
    return server
