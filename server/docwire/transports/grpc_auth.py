"""The gateway's token check over gRPC: an interceptor refusing protected calls without a valid token.

It reads the call's ``authorization`` metadata before any handler runs and, when the token is
missing or wrong, answers with UNAUTHENTICATED (the error class named in trailing metadata, as
every docwire error is) from a handler of the same kind as the one refused; the request is never
read. Paths it does not protect (health, reflection, DryRun, Status) pass with one set look-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import grpc

from docwire.gateway.auth import TokenCheck
from docwire.transports.grpc_server import abort
from docwire_contract.errors import Unauthenticated

__all__ = ["TokenInterceptor"]

_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
_AUTHORIZATION = "authorization"


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Checks ``authorization: Bearer <token>`` on the calls to ``protected`` method paths."""

    def __init__(self, check: TokenCheck, protected: frozenset[str]) -> None:
        self._check = check
        self._protected = protected

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method not in self._protected:
            return handler
        found = [v for k, v in handler_call_details.invocation_metadata or () if k == _AUTHORIZATION]
        try:
            self._check.check(found[0] if found and isinstance(found[0], str) else None)
        except Unauthenticated as error:
            return _refusing(handler, error)
        return handler


def _refusing(handler: _Handler, error: Unauthenticated) -> _Handler:
    """A handler of ``handler``'s kind that ends the call with ``error`` without reading the request."""

    async def refuse(_: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await abort(context, error)

    kinds = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    make = kinds[(handler.request_streaming, handler.response_streaming)]
    return make(
        refuse, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
    )
