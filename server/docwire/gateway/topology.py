"""A Flow's graph as declared: what each executor needs, filters, and how its shards are polled.

Pure data and checks, no I/O: ``Flow.add`` and the YAML loader build a ``NodeTopology`` per
executor and call ``check_topology`` before anything starts, so a Flow with an unknown
``needs`` name, a duplicate name or a cycle is refused naming the culprit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from docwire_contract.conventions import normalize_endpoint

__all__ = [
    "GATEWAY",
    "POLLING_MODES",
    "NodeTopology",
    "ReduceHook",
    "TopologyError",
    "check_topology",
    "polling_table",
    "resolved_needs",
]

#: The name ``needs`` uses for the gateway: an executor that needs it gets the client's request.
GATEWAY: Final = "gateway"

#: How the shards of an executor are called: ``ANY`` one of them in turn, ``ALL`` every one, replies merged.
POLLING_MODES: Final = ("ANY", "ALL")

#: A reduce hook: the upstream (or shard) document lists in ``needs`` (or shard) order in, one list out.
ReduceHook = Callable[[list[Any]], Any]


class TopologyError(ValueError):
    """A Flow's graph cannot be served: an unknown ``needs``, a duplicate name, a cycle, a bad polling."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeTopology:
    """Where one executor sits in its Flow's graph.

    Attributes:
        needs: the executors (or ``"gateway"``) whose replies it gets, merged by document id when several;
            empty: the previous executor not floating (the gateway for the first), so a chain stays one.
        when: a filter (docarray's query language) on the documents it gets; the others go by it.
        floating: its reply is not awaited on the response path (nor are those of executors needing it).
        shards: how many shards serve it, each with the executor's replicas.
        polling: per endpoint (``"*"``: any other), ``"ANY"`` or ``"ALL"`` (see ``POLLING_MODES``).
        reduce: merges the document lists of several upstream replies (or of ``ALL`` shards), or the
            ``"module.function"`` naming it; default: by id (``merge``).
    """

    needs: tuple[str, ...] = ()
    when: Mapping[str, Any] | None = None
    floating: bool = False
    shards: int = 1
    polling: Mapping[str, str] = field(default_factory=lambda: {"*": "ANY"})
    reduce: ReduceHook | str | None = None

    def polls_all(self, endpoint: str) -> bool:
        """Whether a request to ``endpoint`` goes to every shard."""
        mode = self.polling.get(endpoint) or self.polling.get("*") or "ANY"
        return self.shards > 1 and mode == "ALL"


def polling_table(polling: str | Mapping[str, str], executor: str) -> dict[str, str]:
    """``polling`` as endpoint -> mode (``"*"`` for the rest, ANY unless given), endpoints normalized.

    Raises:
        TopologyError: a mode is neither ANY nor ALL.
    """
    given = {"*": polling} if isinstance(polling, str) else dict(polling)
    table: dict[str, str] = {"*": "ANY"}
    for endpoint, mode in given.items():
        upper = str(mode).upper()
        if upper not in POLLING_MODES:
            raise TopologyError(f"executor {executor!r}: polling {mode!r} for {endpoint!r} must be ANY or ALL")
        table["*" if endpoint == "*" else normalize_endpoint(str(endpoint))] = upper
    return table


def resolved_needs(nodes: Sequence[tuple[str, NodeTopology]]) -> dict[str, tuple[str, ...]]:
    """Each executor's ``needs`` with the default filled in: the previous executor that is not floating."""
    needs: dict[str, tuple[str, ...]] = {}
    previous = GATEWAY
    for name, topology in nodes:
        needs[name] = topology.needs or (previous,)
        if not topology.floating:
            previous = name
    return needs


def check_topology(nodes: Sequence[tuple[str, NodeTopology]]) -> None:
    """Refuses a graph that cannot run: duplicate names, unknown ``needs``, cycles.

    Args:
        nodes: each executor's name and topology, in the order they were added.

    Raises:
        TopologyError: naming the executor at fault (and the cycle's path for a cycle).
    """
    names: set[str] = set()
    for name, _ in nodes:
        if name == GATEWAY:
            raise TopologyError(f"executor name {GATEWAY!r} is reserved: it names the gateway in needs")
        if name in names:
            raise TopologyError(f"the Flow has two executors named {name!r}")
        names.add(name)
    needs = resolved_needs(nodes)
    for name, topology in nodes:
        if topology.shards < 1:
            raise TopologyError(f"executor {name!r}: shards must be at least 1, not {topology.shards}")
        unknown = [need for need in needs[name] if need != GATEWAY and need not in names]
        if unknown:
            raise TopologyError(
                f"executor {name!r} needs {', '.join(map(repr, unknown))}, which is not an executor of the Flow "
                f"(executors: {', '.join(sorted(names))}; or 'gateway')"
            )
    cycle = _find_cycle(needs)
    if cycle:
        raise TopologyError(f"the Flow's needs form a cycle: {' -> '.join(cycle)}")


def _find_cycle(needs: Mapping[str, Sequence[str]]) -> list[str]:
    """A cycle of ``needs`` as a path (its first name repeated at the end), or empty."""
    done: set[str] = set()
    for start in needs:
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            name, index = stack.pop()
            if index == 0:
                if name in on_path:
                    return [*path[path.index(name) :], name]
                if name in done or name == GATEWAY:
                    continue
                path.append(name)
                on_path.add(name)
            upstream = needs[name]
            if index < len(upstream):
                stack.append((name, index + 1))
                stack.append((upstream[index], 0))
            else:
                done.add(name)
                on_path.discard(name)
                path.pop()
    return []
