"""Where a client connects: host, port, protocol and TLS, from a URI and/or keywords.

Rules: a URI scheme names the protocol, and a trailing ``s`` means TLS
(``grpcs://``, ``https://``, ``wss://``; also ``websocket://`` and ``websockets://``,
as seed 001 writes them). A value may come from the URI or from a
keyword, not both. Without a port, TLS connects to 443 and plain to 80.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["PROTOCOLS", "Target", "parse_target"]

#: Protocol name -> URI schemes (plain, TLS).
PROTOCOLS = {"grpc": ("grpc", "grpcs"), "http": ("http", "https"), "websocket": ("ws", "wss")}
_SCHEMES = {
    scheme: (protocol, tls)
    for protocol, pair in PROTOCOLS.items()
    for scheme, tls in zip(pair, (False, True), strict=True)
} | {"websocket": ("websocket", False), "websockets": ("websocket", True)}  # seed 001's spelling of ws, wss
_ALIASES = {"ws": "websocket", "https": "http", "grpcs": "grpc", "wss": "websocket"}

DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved connection target."""

    host: str
    port: int
    protocol: str
    tls: bool

    @property
    def address(self) -> str:
        """``host:port`` as gRPC expects it (IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"

    @property
    def uri(self) -> str:
        """The target as a URI, for messages."""
        return f"{PROTOCOLS[self.protocol][int(self.tls)]}://{self.address}"


def parse_target(
    host: str | None = None, port: int | None = None, protocol: str | None = None, tls: bool | None = None
) -> Target:
    """Resolves a client's connection settings.

    Raises:
        ValueError: a value is given twice (URI and keyword), or a protocol or port is invalid.
    """
    uri_protocol: str | None = None
    uri_tls: bool | None = None
    uri_port: int | None = None
    name = host or DEFAULT_HOST
    if "://" in name:
        parts = urlsplit(name)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r} in {name!r}; use one of {sorted(_SCHEMES)}")
        uri_protocol, uri_tls = _SCHEMES[scheme]
        try:
            uri_port = parts.port
        except ValueError as exc:
            raise ValueError(f"invalid port in {name!r}: {exc}") from exc
        name = parts.hostname or DEFAULT_HOST
        if protocol is not None:
            raise ValueError(f"protocol given twice: by the URI {host!r} and protocol={protocol!r}")
        if tls is not None:
            raise ValueError(f"TLS given twice: by the URI {host!r} and tls={tls!r}")
    elif name.count(":") == 1:
        name, _, port_text = name.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"invalid port {port_text!r} in host {host!r}")
        uri_port = int(port_text)
    if uri_port is not None and port is not None:
        raise ValueError(f"port given twice: by the host {host!r} and port={port!r}")

    chosen_protocol = uri_protocol or _ALIASES.get((protocol or "grpc").lower(), (protocol or "grpc").lower())
    if chosen_protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; use one of {sorted(PROTOCOLS)}")
    chosen_tls = bool(uri_tls if uri_tls is not None else tls)
    chosen_port = uri_port if uri_port is not None else port
    if chosen_port is None:
        chosen_port = 443 if chosen_tls else 80
    if not 0 < chosen_port < 65536:
        raise ValueError(f"port {chosen_port} is out of range 1-65535")
    return Target(name, chosen_port, chosen_protocol, chosen_tls)
