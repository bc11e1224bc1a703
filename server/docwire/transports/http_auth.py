"""The gateway's token check over HTTP: an ASGI middleware answering 401 to protected requests without a token.

HTTP requests only: WebSocket handshakes are checked by the WebSocket transport when it accepts
them (``transports.websocket``), where a refusal is an HTTP answer too. The open paths are
``gateway.auth``'s. A refusal is docwire's error body (``Unauthenticated``) with
``WWW-Authenticate: Bearer``, so the client raises ``Unauthenticated`` with the message.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from docwire.gateway.auth import TokenCheck, is_open_http_path
from docwire.transports.http_errors import error_response
from docwire_contract.errors import Unauthenticated

__all__ = ["TokenGate"]


class TokenGate:
    """Passes requests with a valid ``Authorization: Bearer <token>`` (or to an open path) on to ``app``."""

    def __init__(self, app: ASGIApp, check: TokenCheck) -> None:
        self._app = app
        self._check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open_http_path(scope["path"]) or scope["method"] == "OPTIONS":
            await self._app(scope, receive, send)  # OPTIONS: CORS preflights carry no credentials
            return
        found = [value for key, value in scope["headers"] if key == b"authorization"]
        try:
            self._check.check(found[0].decode("latin-1") if found else None)
        except Unauthenticated as error:
            response = error_response(error)
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)
