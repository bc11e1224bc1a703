"""The "ready to serve" panel printed when a Flow or Deployment starts."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

__all__ = ["print_ready_banner"]


def print_ready_banner(kind: str, protocol: str, host: str, port: int) -> None:
    """Prints where the server listens, on stderr so stdout stays the program's own."""
    table = Table.grid(padding=(0, 2))
    table.add_row("Protocol", protocol.upper())
    table.add_row("Local", f"{host}:{port}")
    table.add_row("URI", f"{protocol}://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}")
    Console(stderr=True).print(Panel(table, title=f"{kind} is ready to serve", expand=False))
