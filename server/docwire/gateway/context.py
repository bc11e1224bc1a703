"""What the gateway core knows of the call a request came on, whatever the protocol.

The core (``docwire.gateway.service``) is written against ``RequestContext`` alone, as
connect-python's handlers are against its ``RequestContext``: each transport adapts its
own call to it once, at its boundary (gRPC from the ``grpc.aio.ServicerContext``,
HTTP, GraphQL and WebSocket from the request or the handshake). The core reports a
failure by raising a ``DocwireError``; the transport turns it into its protocol's error
(a gRPC status, an HTTP status, a WebSocket close code).

Implementations are slotted and read each field only when asked: building one costs a
request no more than one small object.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

__all__ = ["LocalContext", "Metadata", "RequestContext"]

#: Call metadata as (key, value) pairs, keys in lower case, in the order they came.
Metadata = tuple[tuple[str, str], ...]


class RequestContext(ABC):
    """The call one request (or one client stream) came on: its metadata, deadline, peer and state."""

    __slots__ = ()

    @abstractmethod
    def metadata(self) -> Metadata:
        """The caller's metadata (headers) worth passing on to executors, for example ``authorization``.

        The transport leaves out what describes its own hop (connection, content type,
        gRPC's ``grpc-*`` and pseudo headers) and binary values.
        """

    @abstractmethod
    def time_remaining(self) -> float | None:
        """Seconds left before the caller's own deadline; None when it set none.

        The deadline a request's ``header.timeout`` gives is the core's to read: this
        one is the transport's (gRPC's ``grpc-timeout``).
        """

    @abstractmethod
    def peer(self) -> str:
        """The caller's address as ``host:port`` (``[host]:port`` for IPv6); empty when unknown."""

    @abstractmethod
    def cancelled(self) -> bool:
        """Whether the caller is known to have gone away (cancelled its call, closed its socket)."""


class LocalContext(RequestContext):
    """A call made in this process, on no transport (the core driven directly, as tests do): the metadata
    given, no deadline of its own, no peer, never cancelled."""

    __slots__ = ("_metadata",)

    def __init__(self, metadata: Metadata = ()) -> None:
        self._metadata = metadata

    def metadata(self) -> Metadata:
        return self._metadata

    def time_remaining(self) -> float | None:
        return None

    def peer(self) -> str:
        return ""

    def cancelled(self) -> bool:
        return False
