"""Bearer tokens the gateway checks before any executor runs: what is protected, and the check itself.

Every protocol checks the same thing at its boundary, ``authorization: Bearer <token>``
(gRPC metadata, an HTTP header, the WebSocket handshake's header), with one ``TokenCheck``:
the gRPC transport in an interceptor (``transports.grpc_auth``), HTTP in a middleware
(``transports.http_auth``), WebSocket when it accepts a handshake.

Protected: whatever runs executors or shows the Flow's endpoints and document schemas (Post,
Stream, StreamDoc, Endpoints and Jina's names for them; over HTTP every route but the open
ones below). Open, so probes and load balancers work without a token: gRPC health checking
and reflection, DryRun and Status (readiness, versions), and over HTTP ``/``, ``/dry_run``,
``/status`` and the API pages (``/docs``, ``/redoc`` and their assets; the pages ask for the
token to call the API).

Tokens are compared by their SHA-256 digests with ``hmac.compare_digest``, every accepted token
each time, so the time a check takes says nothing about how much of a token was right.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable

from docwire_contract.errors import Unauthenticated

__all__ = ["AUTH_TOKENS_ENV", "OPEN_HTTP_PATHS", "OPEN_HTTP_PREFIXES", "TokenCheck", "is_open_http_path"]

#: Tokens may also come from this environment variable (comma-separated), so they stay out of Flow YAML files.
AUTH_TOKENS_ENV = "DOCWIRE_AUTH_TOKENS"
#: HTTP paths served without a token (liveness, readiness, versions, the API pages).
OPEN_HTTP_PATHS = frozenset({"/", "/dry_run", "/status", "/docs", "/redoc"})
OPEN_HTTP_PREFIXES = ("/docs/",)

_SCHEME = "bearer"


class TokenCheck:
    """The tokens a gateway accepts; ``check`` raises ``Unauthenticated`` for a call without one of them."""

    __slots__ = ("_digests",)

    def __init__(self, tokens: Iterable[str]) -> None:
        self._digests = tuple(_digest(token) for token in tokens if token)
        if not self._digests:
            raise ValueError("auth needs at least one non-empty token")

    @classmethod
    def configured(cls, tokens: Iterable[str] = ()) -> TokenCheck | None:
        """The check for ``tokens`` plus those in ``$DOCWIRE_AUTH_TOKENS``; None when there are none (auth off)."""
        found = [*tokens, *(t.strip() for t in os.environ.get(AUTH_TOKENS_ENV, "").split(","))]
        found = [token for token in found if token]
        return cls(found) if found else None

    def check(self, authorization: str | None) -> None:
        """Accepts ``Bearer <token>`` with one of the tokens.

        Raises:
            Unauthenticated: no ``authorization`` value, another scheme, or a token not accepted.
        """
        if not authorization:
            raise Unauthenticated("this gateway requires a token: send 'authorization: Bearer <token>'")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != _SCHEME or not token.strip():
            raise Unauthenticated("the authorization is not 'Bearer <token>'")
        given = _digest(token.strip())
        matched = False
        for digest in self._digests:  # all of them, always: no early exit
            matched |= hmac.compare_digest(given, digest)
        if not matched:
            raise Unauthenticated("the token is not accepted by this gateway")


def is_open_http_path(path: str) -> bool:
    """Whether an HTTP path is served without a token (see the module docstring)."""
    return path in OPEN_HTTP_PATHS or path.startswith(OPEN_HTTP_PREFIXES)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
