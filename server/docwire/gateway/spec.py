"""What a gateway process is told to serve (pickled to its stdin by the launcher)."""

from __future__ import annotations

from dataclasses import dataclass

from docwire.gateway.router import ExecutorNode
from docwire.observability.spec import ObservabilitySpec
from docwire.transports.tls import MutualTls
from docwire_contract.conventions import DEFAULT_MAX_MESSAGE_BYTES

__all__ = ["GatewaySpec"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewaySpec:
    """Everything a gateway process needs."""

    executors: tuple[ExecutorNode, ...]
    host: str = "0.0.0.0"
    port: int = 0
    #: Every protocol served, each on its own port (``ports[i]`` for ``protocols[i]``; 0: the OS chooses).
    #: Empty means gRPC alone on ``port``.
    protocols: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    prefetch: int = 100
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    discovery_timeout: float = 60.0
    #: PEM certificate chain and key files: when given, gRPC and HTTP are served to clients over TLS.
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    #: Origins browsers may call the HTTP port from (``"*"``: any); empty: no CORS headers.
    cors_origins: tuple[str, ...] = ()
    #: Tokens clients must send (``gateway.auth``); empty (and no ``$DOCWIRE_AUTH_TOKENS``): none needed.
    auth_tokens: tuple[str, ...] = ()
    #: Metrics and traces (None: neither).
    observability: ObservabilitySpec | None = None
    #: Mutual TLS to executors served elsewhere (``transports.tls``): the gateway's certificate and key and
    #: the executors' CA; every executor but those in ``plaintext_executors`` is dialled with it.
    executor_tls: MutualTls | None = None
    plaintext_executors: frozenset[str] = frozenset()
    #: The most requests in flight over every client (``gateway.admission``); None: no bound.
    max_inflight: int | None = None
    #: Seconds an HTTP/WebSocket client has to send a request's headers and body (``transports.http_timeouts``).
    http_read_timeout: float = 60.0
