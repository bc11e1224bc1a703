"""The plan of one endpoint through a Flow's graph, computed once per endpoint and target.

A Flow whose executors form a plain chain (each needs the one before, no ``when``, none
floating) is planned as a ``Route`` and served by the chain path, which forwards request
bytes as they are. Any other graph gets a ``GraphPlan``: its executors in an order where
each comes after those it needs, which of them serve the endpoint (the others pass their
input on), which are on the response path, and which replies make the reply (the leaves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from docwire.gateway.doc_filter import DocFilter, compile_filter
from docwire.gateway.router import ExecutorNode, Route, plan_route
from docwire.gateway.topology import GATEWAY, resolved_needs

__all__ = ["GraphPlan", "PlannedNode", "Planner"]

#: Plans kept per gateway; ``target_executor`` is the client's, so the cache is bounded.
MAX_PLANS = 1024


@dataclass(frozen=True, slots=True)
class PlannedNode:
    """One executor in a graph plan.

    Attributes:
        node: the executor.
        needs: what it gets its input from (``"gateway"`` or executor names), merged when several.
        serves: whether it runs for this endpoint; if not, its input goes on as its output.
        on_path: whether the reply waits for it (it is neither floating nor downstream of one).
        when: the filter on the documents it gets, compiled.
    """

    node: ExecutorNode
    needs: tuple[str, ...]
    serves: bool
    on_path: bool
    when: DocFilter | None

    @property
    def name(self) -> str:
        """The executor's name."""
        return self.node.name


@dataclass(frozen=True, slots=True)
class GraphPlan:
    """How a request goes through a graph: ``nodes`` in dependency order, the reply merged from ``leaves``."""

    nodes: tuple[PlannedNode, ...]
    leaves: tuple[str, ...]


class Planner:
    """Plans requests through one Flow's graph, caching the plan of each endpoint and target."""

    def __init__(self, nodes: Sequence[ExecutorNode]) -> None:
        self._nodes = tuple(nodes)
        self._needs = resolved_needs([(node.name, node.topology) for node in self._nodes])
        self.is_chain = all(
            self._needs[node.name] == ((self._nodes[i - 1].name,) if i else (GATEWAY,))
            and node.topology.when is None
            and not node.topology.floating
            for i, node in enumerate(self._nodes)
        )
        self._order = _dependency_order(self._nodes, self._needs)
        self._filters = {
            node.name: compile_filter(node.topology.when, f"the when of executor {node.name!r}")
            for node in self._nodes
            if node.topology.when is not None
        }
        self._plans: dict[tuple[str, str | None], Route | GraphPlan] = {}

    def plan(self, endpoint: str, target: str | None) -> Route | GraphPlan:
        """The plan for ``endpoint`` and ``target_executor`` (a ``Route`` for a chain; scoping is per request).

        Raises:
            BadRequest: ``target`` is not a regular expression.
            EndpointNotFound: no executor serves ``endpoint`` (or ``target`` matches none).
        """
        key = (endpoint, target)
        found = self._plans.get(key)
        if found is None:
            route = plan_route(self._nodes, endpoint, target, None)
            found = route if self.is_chain else self._graph_plan(route)
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            self._plans[key] = found
        return found

    def _graph_plan(self, route: Route) -> GraphPlan:
        serving = {node.name for node in route.executors}
        on_path: dict[str, bool] = {}
        planned = []
        for node in self._order:
            needs = self._needs[node.name]
            on_path[node.name] = not node.topology.floating and all(on_path.get(n, True) for n in needs)
            serves = node.name in serving
            planned.append(PlannedNode(node, needs, serves, on_path[node.name], self._filters.get(node.name)))
        needed = {need for p in planned if p.on_path for need in p.needs}
        leaves = tuple(n.name for n in self._nodes if on_path[n.name] and n.name not in needed)  # in added order
        return GraphPlan(tuple(planned), leaves)


def _dependency_order(nodes: Sequence[ExecutorNode], needs: dict[str, tuple[str, ...]]) -> list[ExecutorNode]:
    """``nodes`` ordered so that each comes after what it needs (ties in the order they were added)."""
    placed: set[str] = {GATEWAY}
    order: list[ExecutorNode] = []
    waiting = list(nodes)
    while waiting:  # each pass places at least one node: the graph was checked acyclic (check_topology)
        ready = [node for node in waiting if all(n in placed for n in needs[node.name])]
        if not ready:
            raise ValueError(f"the Flow's needs form a cycle among {', '.join(n.name for n in waiting)}")
        for node in ready:
            placed.add(node.name)
            order.append(node)
        waiting = [node for node in waiting if node.name not in placed]
    return order
