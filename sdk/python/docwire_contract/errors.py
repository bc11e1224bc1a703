"""The errors docwire raises, named by what went wrong.

Server and client share this hierarchy; the gRPC status code each one travels as
is fixed here, once, so every transport maps errors the same way.
"""

from __future__ import annotations

from typing import Any, Protocol

import grpc

from docwire_contract.conventions import ERROR_METADATA_KEY
from docwire_contract.v1 import request_pb2

__all__ = [
    "BadRequest",
    "DocumentSchemaError",
    "DocwireError",
    "EndpointNotFound",
    "ExecutorError",
    "ExecutorUnavailable",
    "FailedCall",
    "GatewayUnavailable",
    "MessageTooLarge",
    "MethodNotAllowed",
    "Overloaded",
    "ParametersSchemaError",
    "RequestTimeout",
    "Unauthenticated",
    "ended_while_sending",
    "error_from_call_status",
    "error_from_http",
    "error_from_reply_status",
    "error_from_rpc",
    "error_from_status",
    "status_code_of",
]


class DocwireError(Exception):
    """Base class of every error docwire raises on purpose."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class BadRequest(DocwireError):
    """The request could not be read: malformed bytes, a bad parameter, a bad value."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class DocumentSchemaError(BadRequest):
    """Documents do not fit the schema the endpoint declares; the message names the field."""


class ParametersSchemaError(BadRequest):
    """Parameters do not fit the pydantic model the endpoint declares; the message names each field
    (``parameters.limit``)."""


class EndpointNotFound(DocwireError):
    """No executor on the request's path serves the endpoint."""

    grpc_code = grpc.StatusCode.NOT_FOUND


class MethodNotAllowed(EndpointNotFound):
    """An HTTP request used a verb its path does not take (HTTP 405, with ``allowed`` in its ``Allow`` header)."""

    def __init__(self, message: str, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed


class Unauthenticated(DocwireError):
    """The gateway requires a token (``authorization: Bearer <token>``) the call did not carry, or not a valid one."""

    grpc_code = grpc.StatusCode.UNAUTHENTICATED


class ExecutorUnavailable(DocwireError, ConnectionError):
    """The gateway cannot reach an executor; the message names the executor and its address."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class GatewayUnavailable(DocwireError, ConnectionError):
    """The client cannot reach the server; the message names the address."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class RequestTimeout(DocwireError):
    """The request's deadline passed before the answer came."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


class MessageTooLarge(DocwireError):
    """A message is larger than the configured limit; the message names the limit."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Overloaded(DocwireError):
    """The gateway has as many requests in flight as its ``max_inflight`` allows; send again after a while.

    Travels as RESOURCE_EXHAUSTED over gRPC and as HTTP 429 with ``Retry-After``.
    """

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    #: How long a client should wait before sending again (HTTP ``Retry-After``).
    retry_after_seconds = 1


class ExecutorError(DocwireError):
    """An executor raised while handling a request.

    Raised by the client when a reply carries an error status and no ``on_error``
    callback or ``continue_on_error`` asks otherwise.

    Attributes:
        name: the exception's class name, as the executor raised it.
        args_: the exception's arguments, as strings.
        stacks: the executor-side traceback lines.
        executor: the executor's name.
        description: the status' one-line description.
        response: the reply that carried the error, when there is one.
    """

    def __init__(
        self,
        description: str,
        *,
        name: str = "",
        args: list[str] | None = None,
        stacks: list[str] | None = None,
        executor: str = "",
        response: object | None = None,
    ) -> None:
        where = f" in executor {executor!r}" if executor else ""
        super().__init__(f"{name or 'error'}{where}: {description}")
        self.description = description
        self.name = name
        self.args_ = list(args or [])
        self.stacks = list(stacks or [])
        self.executor = executor
        self.response = response


_BY_NAME: dict[str, type[DocwireError]] = {
    cls.__name__: cls
    for cls in (
        BadRequest,
        DocumentSchemaError,
        EndpointNotFound,
        ExecutorUnavailable,
        GatewayUnavailable,
        MessageTooLarge,
        MethodNotAllowed,
        Overloaded,
        ParametersSchemaError,
        RequestTimeout,
        Unauthenticated,
    )
}
_BY_CODE: dict[grpc.StatusCode, type[DocwireError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: BadRequest,
    grpc.StatusCode.NOT_FOUND: EndpointNotFound,
    grpc.StatusCode.UNAVAILABLE: GatewayUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: RequestTimeout,
    grpc.StatusCode.RESOURCE_EXHAUSTED: MessageTooLarge,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
}


def error_from_status(name: str, description: str) -> DocwireError | None:
    """The DocwireError an error status names, when a gateway (not an executor) reported it in a reply."""
    cls = _BY_NAME.get(name)
    return None if cls is None else cls(description)


def error_from_reply_status(status: request_pb2.Status, response: object | None = None) -> DocwireError:
    """The error a reply's error status stands for: ExecutorError when an executor raised (with its
    exception's name, args, stack and executor), else the DocwireError the gateway named."""
    exception = status.exception
    if not exception.executor and (named := error_from_status(exception.name, status.description)) is not None:
        return named
    return ExecutorError(
        status.description,
        name=exception.name,
        args=list(exception.args),
        stacks=list(exception.stacks),
        executor=exception.executor,
        response=response,
    )


class FailedCall(Protocol):
    """What a failed gRPC call tells: grpc.aio's ``AioRpcError``, and the sync API's ``RpcError`` (a
    ``grpc.Call`` as well)."""

    def code(self) -> grpc.StatusCode: ...
    def details(self) -> str | None: ...
    def trailing_metadata(self) -> Any: ...
    def debug_error_string(self) -> str | None: ...


def ended_while_sending(exc: FailedCall) -> bool:
    """Whether grpc.aio replaced a call's status because a message could not be sent: the server had
    ended the call meanwhile, and its own status (UNAVAILABLE when a gateway stops) is lost (grpc/grpc#36066)."""
    return (
        exc.code() == grpc.StatusCode.INTERNAL
        and exc.details() == "Internal error from Core"
        and "SendMessageOperation" in (exc.debug_error_string() or "")
    )


def error_from_rpc(exc: FailedCall, address: str) -> DocwireError:
    """The DocwireError a failed gRPC call stands for; the one place client-side errors are mapped.

    A docwire server names the error class in trailing metadata; otherwise the
    status code decides, and an unreachable server becomes GatewayUnavailable
    naming ``address``.
    """
    code: grpc.StatusCode = exc.code()
    details: str = exc.details() or ""
    if ended_while_sending(exc):
        lost = GatewayUnavailable(f"the server at {address} ended the call while a request was being sent")
        lost.grpc_code = grpc.StatusCode.UNAVAILABLE
        return lost
    named = [str(value) for key, value in exc.trailing_metadata() or () if key == ERROR_METADATA_KEY]
    error = error_from_call_status(code, details, named[0] if named else "")
    if isinstance(error, GatewayUnavailable):
        error = GatewayUnavailable(f"cannot reach the server at {address}: {details}")
        error.grpc_code = code
    return error


def error_from_call_status(code: grpc.StatusCode, details: str, error_class: str) -> DocwireError:
    """The DocwireError a call's status stands for: the class a docwire server named
    (``error_class``, empty when none), else the one the status code maps to."""
    cls = (_BY_NAME.get(error_class) if error_class else None) or _BY_CODE.get(code, DocwireError)
    error = cls(details or code.name)
    error.grpc_code = code
    return error


def status_code_of(value: int) -> grpc.StatusCode:
    """The gRPC status code numbered ``value`` (UNKNOWN for numbers gRPC does not define)."""
    return _CODE_BY_VALUE.get(value, grpc.StatusCode.UNKNOWN)


#: HTTP status -> the error it stands for when the body names none (grpc-gateway's table, read backwards).
_BY_HTTP: dict[int, type[DocwireError]] = {
    400: BadRequest,
    401: Unauthenticated,
    404: EndpointNotFound,
    405: MethodNotAllowed,
    413: MessageTooLarge,
    422: DocumentSchemaError,
    429: MessageTooLarge,
    503: GatewayUnavailable,
    504: RequestTimeout,
}


def error_from_http(status: int, body: object) -> DocwireError:
    """The DocwireError an HTTP error answer stands for; the one place HTTP errors are mapped.

    A docwire server's body is ``{"code", "status", "error", "message"}``: the class it names
    (``"error"``) decides, as trailing metadata does over gRPC; otherwise its gRPC status
    name (``"status"``) or code, then the HTTP status.
    """
    fields = body if isinstance(body, dict) else {}
    message = str(fields.get("message") or f"HTTP {status}")
    code = _CODE_BY_NAME.get(str(fields.get("status", ""))) or _CODE_BY_VALUE.get(fields.get("code"))  # type: ignore[arg-type]
    cls = _BY_NAME.get(str(fields.get("error", ""))) or (_BY_CODE.get(code) if code else None) or _BY_HTTP.get(status)
    error = (cls or DocwireError)(message)
    error.grpc_code = code or error.grpc_code
    return error


_CODE_BY_NAME = {code.name: code for code in grpc.StatusCode}
_CODE_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}
