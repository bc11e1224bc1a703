"""Where an executor runs and how its gateway reaches it: the rules for ``host``, ``port`` and ``external``.

A Flow launches an executor's replicas on this machine, bound to ``host`` (127.0.0.1 unless told: only
the gateway talks to them), or, with ``external=True``, launches nothing and calls ``host:port``, an
executor served elsewhere (``docwire executor serve`` on another machine, in another container, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from docwire.orchestration.config import ExecutorConfig

__all__ = ["LOOPBACK", "check_placement", "dial_address", "external_address", "reachable_host"]

#: Executors a Flow launches listen on loopback unless ``host`` says otherwise: only their gateway talks to them.
LOOPBACK: Final = "127.0.0.1"

#: Bind-all addresses: a server bound to one is reached on loopback from the same machine.
_ANY_INTERFACE: Final = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def check_placement(config: ExecutorConfig) -> None:
    """Raises ValueError when ``host``, ``port`` and ``external`` do not fit together."""
    if not 0 <= config.port <= 65535:
        raise ValueError(f"executor {config.name!r}: port {config.port} is not a TCP port (0-65535)")
    if not config.external:
        return
    if not config.host or not config.port:
        raise ValueError(
            f"executor {config.name!r}: an external executor needs the host and port it is served at "
            f"(host={config.host!r}, port={config.port})"
        )
    if config.replicas != 1:
        raise ValueError(
            f"executor {config.name!r}: an external executor is one address; its replicas are its server's "
            f"business (give replicas behind one DNS name, host='dns:///name'), not replicas={config.replicas}"
        )


def reachable_host(bind_host: str) -> str:
    """The address a client on this machine dials for a server bound to ``bind_host``."""
    return _ANY_INTERFACE.get(bind_host, bind_host)


def dial_address(host: str, port: int) -> str:
    """A gRPC target for ``host`` and ``port``: ``10.0.0.2:8081``, ``[::1]:8081``, ``dns:///encoder:8081``."""
    if ":" in host and "/" not in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def external_address(config: ExecutorConfig) -> str:
    """The target the gateway calls for an external executor."""
    assert config.host is not None
    return dial_address(config.host, config.port)
