"""The "ready to serve" panel printed when a Flow or Deployment starts."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

__all__ = ["print_ready_banner"]

#: URI schemes of the protocols not named like their scheme.
_SCHEMES = {"websocket": "ws"}


def print_ready_banner(
    kind: str, protocol: str, host: str, port: int, more: dict[str, int] | None = None, *, tls: bool = False
) -> None:
    """Prints where the server listens, on stderr so stdout stays the program's own.

    ``more`` holds the other protocols a gateway serves, each with its port; with ``tls``
    the URIs read ``grpcs://``, ``https://`` and ``wss://``.
    """
    table = Table.grid(padding=(0, 2))
    for name, bound in {protocol: port, **(more or {})}.items():
        table.add_row("Protocol", name.upper())
        table.add_row("Local", f"{host}:{bound}")
        scheme = _SCHEMES.get(name, name)
        table.add_row(
            "URI", f"{scheme}{'s' if tls else ''}://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{bound}"
        )
    Console(stderr=True).print(Panel(table, title=f"{kind} is ready to serve", expand=False))
