"""The JSON an error travels as over HTTP: one shape for error responses and SSE ``error`` events alike.

``{"code": <gRPC code number>, "status": <gRPC code name>, "error": <DocwireError class>, "message": ...}``;
the client reads the class back from ``error`` (``errors.error_from_http``), and the HTTP status
comes from ``status_map``, never from here.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from docwire.transports.document_json import dumps
from docwire_contract.errors import DocwireError, Overloaded
from docwire_contract.status_map import http_status_of

__all__ = ["error_body", "error_response", "json_response"]


def json_response(content: Any, status: int = 200) -> Response:
    """``content`` as a JSON response."""
    return Response(dumps(content), status, media_type="application/json")


def error_body(error: DocwireError) -> dict[str, Any]:
    """What an error response's body (and an SSE ``error`` event's data) holds."""
    return {
        "code": error.grpc_code.value[0],
        "status": error.grpc_code.name,
        "error": type(error).__name__,
        "message": str(error),
    }


def error_response(error: DocwireError, body: dict[str, Any] | None = None) -> Response:
    """The response for ``error``: its body (``error_body`` unless given) with the status ``status_map`` maps to
    (and, for ``Overloaded``, ``Retry-After``)."""
    response = json_response(error_body(error) if body is None else body, http_status_of(error))
    if isinstance(error, Overloaded):
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response
