"""The errors docwire raises, named by what went wrong.

Server and client share this hierarchy; the gRPC status code each one travels as
is fixed here, once, so every transport maps errors the same way.
"""

from __future__ import annotations

import grpc

__all__ = [
    "BadRequest",
    "DocumentSchemaError",
    "DocwireError",
    "EndpointNotFound",
    "ExecutorError",
    "ExecutorUnavailable",
    "MessageTooLarge",
    "RequestTimeout",
]


class DocwireError(Exception):
    """Base class of every error docwire raises on purpose."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class BadRequest(DocwireError):
    """The request could not be read: malformed bytes, a bad parameter, a bad value."""

    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class DocumentSchemaError(BadRequest):
    """Documents do not fit the schema the endpoint declares; the message names the field."""


class EndpointNotFound(DocwireError):
    """No executor on the request's path serves the endpoint."""

    grpc_code = grpc.StatusCode.NOT_FOUND


class ExecutorUnavailable(DocwireError):
    """An executor (or the gateway) cannot be reached; the message names it and its address."""

    grpc_code = grpc.StatusCode.UNAVAILABLE


class RequestTimeout(DocwireError):
    """The request's deadline passed before the answer came."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED


class MessageTooLarge(DocwireError):
    """A message is larger than the configured limit; the message names the limit."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


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
