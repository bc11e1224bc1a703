"""GraphQL on the gateway's HTTP port: ``POST /graphql`` with a ``docs`` mutation, as the incumbent served it.

Why GraphQL next to HTTP/JSON: the caller chooses the reply's fields, so a search that needs
only ``matches { id }`` never receives (nor makes the gateway render) embeddings or tensors.

The ``docs`` mutation is the Post rpc: it builds a ``DataRequest`` and calls the gateway core's
Post with an ``HttpContext`` of the request, as the gRPC and HTTP transports call it, so
routing, ``targetExecutor``, per-executor parameters, deadlines and errors behave exactly as on
the other transports. Documents go in through ``document_json`` (validated against the
endpoint's discovered input schema) and come out lazily: a reply document stays a wire
``docwire.v1.Doc``, and each selected field alone is rendered when GraphQL resolves it.

Library: strawberry-graphql (pinned in pyproject.toml), the incumbent's choice and a maintained
one: types are declared as annotated Python classes that mypy checks, its ASGI app mounts on
starlette as one route, and it runs on graphql-core, the reference implementation's port.
The GraphiQL page is off: strawberry loads it from a CDN, which air-gapped clusters cannot
reach; any GraphQL client (or curl) works instead, and introspection stays on.

Errors: an executor's exception comes back as a GraphQL error naming the executor, the
exception's class and message (``extensions`` carry its arguments and traceback, as the
gRPC reply's status does); a gateway error (unknown endpoint, documents not fitting the
schema, an executor unreachable) as one naming the docwire error and its gRPC status.
Malformed queries get graphql-core's own errors with their line and column.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast

import strawberry
from google.protobuf import json_format
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.scalars import JSON
from strawberry.types import ExecutionContext

from docwire.gateway.service import GatewayServicer
from docwire.transports.document_json import DocumentJson, doc_to_json, to_plain
from docwire.transports.graphql_route import GRAPHQL_PATH
from docwire.transports.http_context import HttpContext
from docwire_contract.conventions import normalize_endpoint
from docwire_contract.errors import BadRequest, DocwireError, ExecutorError, error_from_reply_status
from docwire_contract.v1 import document_pb2, request_pb2

__all__ = ["GRAPHQL_PATH", "graphql_app", "schema"]

logger = logging.getLogger("docwire.gateway")


@dataclass(frozen=True, slots=True)
class _Context:
    """What every resolver receives as ``info.context``."""

    gateway: GatewayServicer
    documents: Callable[[], DocumentJson]
    request: Request | WebSocket


# -- documents out ---------------------------------------------------------------------------------------------


_Resolver = TypeVar("_Resolver", bound=Callable[..., Any])


def _field(description: str) -> Callable[[_Resolver], _Resolver]:
    """``strawberry.field(description=...)``, typed: strawberry's own overload for it returns Any."""
    decorator: Callable[[_Resolver], _Resolver] = strawberry.field(description=description)
    return decorator


def _mutation(description: str) -> Callable[[_Resolver], _Resolver]:
    """``strawberry.mutation(description=...)``, typed likewise."""
    decorator: Callable[[_Resolver], _Resolver] = strawberry.mutation(description=description)
    return decorator


def _flat_floats(value: Any) -> list[float]:
    """A number or nested lists of numbers as one flat list of floats (embeddings are 1-D, almost always)."""
    if isinstance(value, list):
        return [number for item in value for number in _flat_floats(item)]
    return [float(value)]


@strawberry.type(
    name="Document",
    description="A reply document. Fields the executor's schema lacks are null; `field` reads any other field.",
)
class DocumentOut:
    """A reply document kept in its wire form; each field is rendered only when a query selects it."""

    wire: strawberry.Private[document_pb2.Doc]

    def _value(self, name: str) -> Any:
        """One field as JSON, rendered alone (an unselected tensor is never converted)."""
        if name not in self.wire.data:
            return None
        single = document_pb2.Doc()
        single.data[name].CopyFrom(self.wire.data[name])
        return to_plain(doc_to_json(single)[name])

    def _docs(self, name: str) -> list[DocumentOut] | None:
        if name not in self.wire.data or self.wire.data[name].WhichOneof("content") != "doc_array":
            return None
        return [DocumentOut(wire=doc) for doc in self.wire.data[name].doc_array.docs]

    @_field("The document's id.")
    def id(self) -> strawberry.ID | None:
        value = self._value("id")
        return None if value is None else strawberry.ID(str(value))

    @_field("The text.")
    def text(self) -> str | None:
        value = self._value("text")
        return None if value is None else str(value)

    @_field("The URL of the document's content.")
    def url(self) -> str | None:
        value = self._value("url")
        return None if value is None else str(value)

    @_field("Where the document's content lives (the incumbent's name for it).")
    def uri(self) -> str | None:
        value = self._value("uri")
        return None if value is None else str(value)

    @_field("Raw bytes, base64-encoded.")
    def blob(self) -> str | None:
        value = self._value("blob")
        return None if value is None else str(value)

    @_field("The tensor as nested arrays of numbers (one level per dimension).")
    def tensor(self) -> JSON | None:
        return cast(JSON | None, self._value("tensor"))

    @_field("The embedding as a flat list of floats.")
    def embedding(self) -> list[float] | None:
        value = self._value("embedding")
        return None if value is None else _flat_floats(value)

    @_field("Free-form tags (a JSON object).")
    def tags(self) -> JSON | None:
        return cast(JSON | None, self._value("tags"))

    @_field("Scores by name (a JSON object).")
    def scores(self) -> JSON | None:
        return cast(JSON | None, self._value("scores"))

    @_field("The documents matching this one (a search's results).")
    def matches(self) -> list[DocumentOut] | None:
        return self._docs("matches")

    @_field("The parts this document was split into.")
    def chunks(self) -> list[DocumentOut] | None:
        return self._docs("chunks")

    @_field("Any field of the document by name, as JSON (for schemas beyond these fields).")
    def field(self, name: str) -> JSON | None:
        return cast(JSON | None, self._value(name))


# -- documents in ----------------------------------------------------------------------------------------------


@strawberry.input(
    name="DocumentInput",
    description="A document to send. Fields left out take the endpoint's schema defaults; `fields` sets any other.",
)
class DocumentIn:
    """A document given in the mutation's ``data``."""

    id: strawberry.ID | None = strawberry.field(default=None, description="The id (one is made when left out).")
    text: str | None = None
    url: str | None = None
    uri: str | None = None
    blob: str | None = strawberry.field(default=None, description="Raw bytes, base64-encoded.")
    tensor: JSON | None = strawberry.field(
        default=None, description='Nested arrays of numbers, or {"buffer": base64, "dtype": "<f4", "shape": [n]}.'
    )
    embedding: list[float] | None = None
    tags: JSON | None = None
    scores: JSON | None = None
    matches: list[DocumentIn] | None = None
    chunks: list[DocumentIn] | None = None
    fields: JSON | None = strawberry.field(
        default=None, description='Other fields of the endpoint\'s document schema: {"count": 3}.'
    )

    def to_json(self, where: str) -> dict[str, Any]:
        """The document as the plain object ``document_json`` validates.

        Raises:
            BadRequest: ``blob`` is not base64 or ``fields`` is not an object; the message says where.
        """
        plain: dict[str, Any] = {}
        if self.fields is not None:
            if not isinstance(self.fields, dict):
                raise BadRequest(f"{where}.fields must be a JSON object, not {type(self.fields).__name__}")
            plain.update(self.fields)
        for name in ("id", "text", "url", "uri", "tensor", "embedding", "tags", "scores"):
            value = getattr(self, name)
            if value is not None:
                plain[name] = value
        if self.blob is not None:
            try:
                plain["blob"] = base64.b64decode(self.blob, validate=True)
            except binascii.Error as exc:
                raise BadRequest(f"{where}.blob is not base64: {exc}") from exc
        for name in ("matches", "chunks"):
            nested: list[DocumentIn] | None = getattr(self, name)
            if nested is not None:
                plain[name] = [doc.to_json(f"{where}.{name}[{i}]") for i, doc in enumerate(nested)]
        return plain


# -- the schema ------------------------------------------------------------------------------------------------


def _graphql_error(error: DocwireError) -> GraphQLError:
    """A docwire error as a GraphQL error: the message, and the error class and gRPC status in ``extensions``."""
    extensions: dict[str, Any] = {"error": type(error).__name__, "status": error.grpc_code.name}
    if isinstance(error, ExecutorError):
        extensions.update(exception=error.name, executor=error.executor, args=error.args_, stacks=error.stacks)
    return GraphQLError(str(error), extensions=extensions, original_error=error)


async def _post(
    context: _Context,
    data: list[DocumentIn] | None,
    exec_endpoint: str,
    target_executor: str | None,
    parameters: JSON | None,
) -> list[DocumentOut]:
    endpoint = normalize_endpoint(exec_endpoint)
    request = request_pb2.DataRequest()
    request.header.request_id = uuid.uuid4().hex
    request.header.exec_endpoint = endpoint
    if target_executor is not None:
        request.header.target_executor = target_executor
    if parameters is not None:
        if not isinstance(parameters, dict):
            raise BadRequest(f"parameters must be a JSON object, not {type(parameters).__name__}")
        request.parameters.update(parameters)
    items = [doc.to_json(f"data[{i}]") for i, doc in enumerate(data or [])]
    request.data.docs_bytes = context.documents().encode(items, endpoint)
    raw = await context.gateway.post(request.SerializeToString(), HttpContext(context.request))
    reply = request_pb2.DataRequest.FromString(raw)
    if reply.header.status.code != request_pb2.Status.CODE_SUCCESS:
        raise error_from_reply_status(reply.header.status)
    content = reply.data
    if content.WhichOneof("documents") == "docs_bytes":
        docs = document_pb2.DocList.FromString(content.docs_bytes)
    else:
        docs = content.docs
    return [DocumentOut(wire=doc) for doc in docs.docs]


@strawberry.type
class Mutation:
    @_mutation("Sends documents to an endpoint of the Flow (the Post rpc) and returns the reply's documents.")
    async def docs(
        self,
        info: strawberry.Info[_Context, None],
        data: Annotated[
            list[DocumentIn] | None, strawberry.argument(description="The documents: one, or a list.")
        ] = None,
        exec_endpoint: Annotated[
            str, strawberry.argument(description='The executor endpoint to call, for example "/search".')
        ] = "/",
        target_executor: Annotated[
            str | None,
            strawberry.argument(description="A regular expression (re.match) naming the executors that see it."),
        ] = None,
        parameters: Annotated[
            JSON | None,
            strawberry.argument(description="Parameters for the executors; `<executor>__<key>` reaches only that one."),
        ] = None,
    ) -> list[DocumentOut]:
        try:
            return await _post(info.context, data, exec_endpoint, target_executor, parameters)
        except DocwireError as error:
            raise _graphql_error(error) from error


@strawberry.type
class Query:
    @_field("The endpoints the Flow serves.")
    async def endpoints(self, info: strawberry.Info[_Context, None]) -> list[str]:
        return list(info.context.gateway.endpoints_info.endpoints)

    @_field("The gateway's component versions (docwire, protocol, python, ...).")
    async def versions(self, info: strawberry.Info[_Context, None]) -> JSON:
        return JSON(json_format.MessageToDict(info.context.gateway.status())["versions"])


class _Schema(strawberry.Schema):
    """Logs the errors a caller caused (bad queries, docwire errors) in one line; only unexpected ones in full."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        unexpected = []
        for error in errors:
            if error.original_error is None or isinstance(error.original_error, (DocwireError, GraphQLError)):
                logger.info("GraphQL request failed: %s", error.message)
            else:
                unexpected.append(error)
        super().process_errors(unexpected, execution_context)


#: The GraphQL schema the gateway serves (``print(schema)`` shows it as SDL).
schema = _Schema(query=Query, mutation=Mutation)


class _GraphqlHttp(GraphQL[_Context, None]):
    """strawberry's ASGI app, handing resolvers the gateway core and the HTTP request."""

    def __init__(self, gateway: GatewayServicer, documents: Callable[[], DocumentJson]) -> None:
        super().__init__(schema, graphql_ide=None, allow_queries_via_get=True, multipart_uploads_enabled=False)
        self._gateway = gateway
        self._documents = documents

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> _Context:
        return _Context(self._gateway, self._documents, request)


def graphql_app(gateway: GatewayServicer, documents: Callable[[], DocumentJson]) -> _GraphqlHttp:
    """The ASGI app serving GraphQL (mount it at ``GRAPHQL_PATH``; POST, and GET for queries).

    Args:
        gateway: the gateway core, whose Post, endpoints and versions the schema serves.
        documents: returns the JSON <-> document converter for the current schemas
            (``HttpTranscoder.documents``).
    """
    return _GraphqlHttp(gateway, documents)
