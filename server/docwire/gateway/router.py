"""Pure routing rules of a Flow: which executors see a request, and with which parameters."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from docwire.gateway.topology import NodeTopology
from docwire_contract.conventions import DEFAULT_ENDPOINT
from docwire_contract.errors import BadRequest, EndpointNotFound

__all__ = ["ExecutorNode", "Route", "is_scoped", "plan_route", "scope_parameters"]

#: Separates an executor's name from a parameter meant only for it: ``{"exec1__top_k": 3}``.
SCOPE_SEPARATOR = "__"


@dataclass(frozen=True, slots=True)
class ExecutorNode:
    """One executor of a Flow as the gateway sees it: its name, replica addresses, endpoints, place in the graph.

    ``addresses`` lists every replica of every shard; ``shard_addresses`` groups them by shard
    (empty: one shard, ``addresses``).
    """

    name: str
    addresses: tuple[str, ...]
    endpoints: frozenset[str] = field(default_factory=frozenset)
    topology: NodeTopology = field(default_factory=NodeTopology)
    shard_addresses: tuple[tuple[str, ...], ...] = ()

    @property
    def shards(self) -> tuple[tuple[str, ...], ...]:
        """The replicas' addresses of each shard."""
        return self.shard_addresses or (self.addresses,)

    def handles(self, endpoint: str) -> bool:
        """Whether a method of this executor serves ``endpoint`` (its own binding or the default one)."""
        return endpoint in self.endpoints or DEFAULT_ENDPOINT in self.endpoints

    def binds(self, endpoint: str) -> bool:
        """Whether this executor binds ``endpoint`` by name (not only through its default)."""
        return endpoint in self.endpoints

    @property
    def passes_through(self) -> bool:
        """An executor with no ``@requests`` method: requests go by it untouched."""
        return not self.endpoints


@dataclass(frozen=True, slots=True)
class Route:
    """The executors one request visits, in order, and whether parameters need scoping.

    Executors that do not serve the endpoint are left out: they would only pass the
    documents on, at the cost of a round trip. No executor at all means the request
    comes back as it went (a Flow of pass-through executors).
    """

    executors: tuple[ExecutorNode, ...]
    scoped: bool


def plan_route(
    chain: Sequence[ExecutorNode],
    endpoint: str,
    target_executor: str | None,
    parameters: Mapping[str, Any] | None,
) -> Route:
    """Picks the executors a request visits: those on the path that serve ``endpoint``.

    ``target_executor`` is a regular expression matched with ``re.match`` against
    executor names.

    Raises:
        BadRequest: ``target_executor`` is not a valid regular expression.
        EndpointNotFound: no executor on the path serves ``endpoint`` (and none is a
            pass-through one), or the target matches no executor.
    """
    selected = tuple(chain)
    if target_executor:
        try:
            pattern = re.compile(target_executor)
        except re.error as exc:
            raise BadRequest(f"target_executor {target_executor!r} is not a valid regular expression: {exc}") from exc
        selected = tuple(node for node in chain if pattern.match(node.name))
        if not selected:
            names = ", ".join(node.name for node in chain)
            raise EndpointNotFound(f"target_executor {target_executor!r} matches no executor; executors: {names}")
    serving = tuple(node for node in selected if node.handles(endpoint))
    if not serving and not any(node.passes_through for node in selected):
        served = sorted({e for node in selected for e in node.endpoints})
        raise EndpointNotFound(f"no executor serves endpoint {endpoint!r}; endpoints: {', '.join(served)}")
    return Route(serving, is_scoped(parameters, {node.name for node in chain}))


def is_scoped(parameters: Mapping[str, Any] | None, names: set[str]) -> bool:
    """Whether ``parameters`` hold a key meant for one executor (``<executor>__key``)."""
    return bool(parameters) and any(_scope_of(key, names) is not None for key in parameters or {})


def _scope_of(key: str, names: set[str]) -> str | None:
    prefix, sep, rest = key.partition(SCOPE_SEPARATOR)
    return prefix if sep and rest and prefix in names else None


def scope_parameters(parameters: Mapping[str, Any], executor: str, names: set[str]) -> dict[str, Any]:
    """The parameters ``executor`` sees: shared keys, plus its own ``<executor>__key`` ones unprefixed.

    Keys scoped to other executors are removed. A scoped key wins over a shared key of the same name.
    """
    shared: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for key, value in parameters.items():
        scope = _scope_of(key, names)
        if scope is None:
            shared[key] = value
        elif scope == executor:
            own[key[len(scope) + len(SCOPE_SEPARATOR) :]] = value
    return {**shared, **own}
