"""The tables from gRPC status codes to HTTP statuses and WebSocket close codes, and from errors to both.

Every transport that is not gRPC (HTTP, WebSocket) maps errors through this module
and nowhere else. The HTTP codes follow grpc-gateway's table
(``runtime/errors.go: HTTPStatusFromCode``), with two additions: documents or parameters
that do not fit an endpoint's schema answer 422, as JSON APIs usually do, and a message over
the size limit answers 413 (RESOURCE_EXHAUSTED too, whose 429 in grpc-gateway's table means a
quota: docwire's quota, ``Overloaded`` past the gateway's ``max_inflight``, answers 429).

A WebSocket closes with RFC 6455's code where one means the same as the gRPC code
(1000 OK, 1008 PERMISSION_DENIED, 1009 RESOURCE_EXHAUSTED, 1011 INTERNAL, 1013
UNAVAILABLE: try again later), and with ``4000 + the gRPC code's number`` for every
other code (4003 INVALID_ARGUMENT, 4004 DEADLINE_EXCEEDED, 4005 NOT_FOUND, ...).
Unlike ``4000 + HTTP status`` that keeps every gRPC code apart (five codes share
HTTP 400 or 500), so a client turns a close code back into the exact code
(``grpc_code_of_close``).
"""

from __future__ import annotations

from http import HTTPStatus

import grpc

from docwire_contract.errors import (
    DocumentSchemaError,
    DocwireError,
    MessageTooLarge,
    MethodNotAllowed,
    Overloaded,
    ParametersSchemaError,
)

__all__ = [
    "APPLICATION_CLOSE_BASE",
    "close_code_of",
    "close_code_of_code",
    "grpc_code_of_close",
    "http_status_of",
    "http_status_of_code",
]

#: gRPC status code -> HTTP status, as grpc-gateway maps them.
_HTTP_BY_CODE: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: HTTPStatus.OK,
    grpc.StatusCode.CANCELLED: 499,  # nginx's 'client closed request', as grpc-gateway uses
    grpc.StatusCode.UNKNOWN: HTTPStatus.INTERNAL_SERVER_ERROR,
    grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.DEADLINE_EXCEEDED: HTTPStatus.GATEWAY_TIMEOUT,
    grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: HTTPStatus.CONFLICT,
    grpc.StatusCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    grpc.StatusCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.TOO_MANY_REQUESTS,
    grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.ABORTED: HTTPStatus.CONFLICT,
    grpc.StatusCode.OUT_OF_RANGE: HTTPStatus.BAD_REQUEST,
    grpc.StatusCode.UNIMPLEMENTED: HTTPStatus.NOT_IMPLEMENTED,
    grpc.StatusCode.INTERNAL: HTTPStatus.INTERNAL_SERVER_ERROR,
    grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS: HTTPStatus.INTERNAL_SERVER_ERROR,
}

#: Errors whose HTTP status is more precise than their gRPC code's.
_HTTP_BY_ERROR: dict[type[DocwireError], int] = {
    DocumentSchemaError: HTTPStatus.UNPROCESSABLE_ENTITY,
    ParametersSchemaError: HTTPStatus.UNPROCESSABLE_ENTITY,
    MessageTooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    MethodNotAllowed: HTTPStatus.METHOD_NOT_ALLOWED,
    Overloaded: HTTPStatus.TOO_MANY_REQUESTS,
}

#: gRPC status code -> RFC 6455 close code, where one means the same.
_CLOSE_BY_CODE: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 1000,  # normal closure
    grpc.StatusCode.PERMISSION_DENIED: 1008,  # policy violation
    grpc.StatusCode.RESOURCE_EXHAUSTED: 1009,  # message too big
    grpc.StatusCode.INTERNAL: 1011,  # internal error
    grpc.StatusCode.UNAVAILABLE: 1013,  # try again later
}

#: Close codes for every other gRPC code: this plus the code's number (RFC 6455 leaves 4000-4999 to applications).
APPLICATION_CLOSE_BASE = 4000

#: RFC 6455 close code -> gRPC status code, including those a peer or the WebSocket library sends on its own.
_CODE_BY_CLOSE: dict[int, grpc.StatusCode] = {
    **{close: code for code, close in _CLOSE_BY_CODE.items()},
    1001: grpc.StatusCode.UNAVAILABLE,  # going away
    1002: grpc.StatusCode.INVALID_ARGUMENT,  # protocol error
    1003: grpc.StatusCode.INVALID_ARGUMENT,  # unsupported data
    1006: grpc.StatusCode.UNAVAILABLE,  # closed without a close frame
    1007: grpc.StatusCode.INVALID_ARGUMENT,  # invalid payload (not UTF-8 text)
    1012: grpc.StatusCode.UNAVAILABLE,  # service restart
}
_CODE_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode if code not in _CLOSE_BY_CODE}


def http_status_of_code(code: grpc.StatusCode) -> int:
    """The HTTP status a gRPC status code travels as."""
    return _HTTP_BY_CODE.get(code, HTTPStatus.INTERNAL_SERVER_ERROR)


def http_status_of(error: DocwireError) -> int:
    """The HTTP status an error travels as."""
    for cls in type(error).__mro__:
        if cls in _HTTP_BY_ERROR:
            return _HTTP_BY_ERROR[cls]
    return http_status_of_code(error.grpc_code)


def close_code_of_code(code: grpc.StatusCode) -> int:
    """The WebSocket close code a gRPC status code travels as."""
    return _CLOSE_BY_CODE.get(code, APPLICATION_CLOSE_BASE + code.value[0])


def close_code_of(error: DocwireError) -> int:
    """The WebSocket close code an error closes a socket with."""
    return close_code_of_code(error.grpc_code)


def grpc_code_of_close(close_code: int) -> grpc.StatusCode:
    """The gRPC status code a WebSocket close code stands for (UNKNOWN for codes outside both tables)."""
    if close_code in _CODE_BY_CLOSE:
        return _CODE_BY_CLOSE[close_code]
    return _CODE_BY_NUMBER.get(close_code - APPLICATION_CLOSE_BASE, grpc.StatusCode.UNKNOWN)
