"""The gateway core's ``RequestContext`` for a call that came over HTTP: a request or a WebSocket handshake.

HTTP/JSON, GraphQL and WebSocket all build it from starlette's ``HTTPConnection`` (the
common base of ``Request`` and ``WebSocket``) and call the core with it directly.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from docwire.gateway.context import Metadata, RequestContext
from docwire.transports.grpc_server import forwarded_metadata

__all__ = ["HOP_HEADERS", "HttpContext"]

#: HTTP headers about the connection, not the call: never passed on to executors as metadata.
HOP_HEADERS = frozenset({"content-length", "connection", "accept", "keep-alive", "transfer-encoding", "upgrade"})


class HttpContext(RequestContext):
    """An HTTP request (or a WebSocket handshake) as the gateway core sees it.

    Args:
        connection: the request or the WebSocket.
        skip: headers never passed on as metadata, besides those gRPC leaves out too.
    """

    __slots__ = ("_cancelled", "_connection", "_metadata", "_skip")

    def __init__(self, connection: HTTPConnection, skip: frozenset[str] = HOP_HEADERS) -> None:
        self._connection = connection
        self._skip = skip
        self._metadata: Metadata | None = None
        self._cancelled = False

    def metadata(self) -> Metadata:
        """The headers, less ``skip`` and what a gRPC call's metadata leaves out, read on first use."""
        if self._metadata is None:
            skip = self._skip
            self._metadata = forwarded_metadata(
                pair for pair in self._connection.headers.items() if pair[0] not in skip
            )
        return self._metadata

    def time_remaining(self) -> float | None:
        """None: an HTTP caller gives its deadline in the request's ``header.timeout``, if at all."""
        return None

    def peer(self) -> str:
        client = self._connection.client
        if client is None:
            return ""
        host, port = client
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def cancelled(self) -> bool:
        """True once the transport saw the caller go (``cancel``); a plain HTTP request never learns it early."""
        return self._cancelled

    def cancel(self) -> None:
        """Records that the caller went away (a WebSocket closed by its client)."""
        self._cancelled = True
