"""Where one request's time went, read from its reply's routes (seed 000's ``profiling()`` tree)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.tree import Tree

from docwire_contract.v1 import request_pb2

__all__ = ["CLIENT_SERVER_NETWORK", "GATEWAY_EXECUTORS_NETWORK", "ROUNDTRIP", "SERVER", "latencies", "render", "show"]

ROUNDTRIP = "Roundtrip"
CLIENT_SERVER_NETWORK = "Client-server network"
SERVER = "Server"
GATEWAY_EXECUTORS_NETWORK = "Gateway-executors network"


def _ms(route: request_pb2.Route) -> float:
    return (route.end_time.ToNanoseconds() - route.start_time.ToNanoseconds()) / 1e6


def latencies(roundtrip_ms: float, routes: Sequence[request_pb2.Route]) -> dict[str, float]:
    """Milliseconds per part: the round trip the client measured, split by the routes' times.

    The gateway's route (first) is the server's time; the rest of the round trip is
    the client-server network (with the client's encoding and decoding). Each executor's
    route is its own time; the rest of the server's time is the gateway-executors
    network. Differences come from different clocks, so they are floored at zero.

    Raises:
        ValueError: the routes do not start with the gateway's.
    """
    if not routes:
        raise ValueError("the reply has no routes: was it answered by a docwire gateway?")
    server = _ms(routes[0])
    executors: dict[str, float] = {}
    for route in routes[1:]:
        executors[route.executor] = executors.get(route.executor, 0.0) + _ms(route)
    return {
        ROUNDTRIP: roundtrip_ms,
        CLIENT_SERVER_NETWORK: max(roundtrip_ms - server, 0.0),
        SERVER: server,
        GATEWAY_EXECUTORS_NETWORK: max(server - sum(executors.values()), 0.0),
        **executors,
    }


def render(figures: dict[str, float]) -> Tree:
    """The figures as seed 000's tree: the round trip, then the network and the server, then its parts."""

    def row(name: str, of: float) -> str:
        value = figures[name]
        share = 100 * value / of if of > 0 else 0.0
        return f"[bold]{name}[/]  {value:.1f}ms  {share:.0f}%"

    roundtrip = figures[ROUNDTRIP]
    tree = Tree(row(ROUNDTRIP, roundtrip))
    tree.add(row(CLIENT_SERVER_NETWORK, roundtrip))
    server = tree.add(row(SERVER, roundtrip))
    server_ms = figures[SERVER]
    for name in figures:
        if name not in (ROUNDTRIP, CLIENT_SERVER_NETWORK, SERVER):
            server.add(row(name, server_ms))
    return tree


def show(figures: dict[str, float], console: Console | None = None) -> None:
    """Prints the tree."""
    (console or Console()).print(render(figures))
