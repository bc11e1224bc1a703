"""The one table from gRPC status codes to HTTP statuses, and from errors to both.

Every transport that is not gRPC (HTTP now, WebSocket later) maps errors through
this module and nowhere else. The codes follow grpc-gateway's table
(``runtime/errors.go: HTTPStatusFromCode``), with one addition: documents that do
not fit an endpoint's schema answer 422, as JSON APIs usually do.
"""

from __future__ import annotations

from http import HTTPStatus

import grpc

from docwire_client.errors import DocumentSchemaError, DocwireError

__all__ = ["grpc_code_of", "http_status_of", "http_status_of_code"]

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
}

_CODE_BY_NAME = {code.name: code for code in grpc.StatusCode}


def http_status_of_code(code: grpc.StatusCode) -> int:
    """The HTTP status a gRPC status code travels as."""
    return _HTTP_BY_CODE.get(code, HTTPStatus.INTERNAL_SERVER_ERROR)


def http_status_of(error: DocwireError) -> int:
    """The HTTP status an error travels as."""
    for cls in type(error).__mro__:
        if cls in _HTTP_BY_ERROR:
            return _HTTP_BY_ERROR[cls]
    return http_status_of_code(error.grpc_code)


def grpc_code_of(name: str) -> grpc.StatusCode:
    """The gRPC status code named ``name`` (``"NOT_FOUND"``), UNKNOWN for any other name."""
    return _CODE_BY_NAME.get(name, grpc.StatusCode.UNKNOWN)
