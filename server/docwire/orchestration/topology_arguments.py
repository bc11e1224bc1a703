"""An executor's place in a Flow's graph on ``docwire gateway serve``'s command line, both ways.

A chain needs nothing but ``--executor name=targets`` in order. A graph adds, per executor
that has any, ``--topology name=JSON`` with what differs from a chain link: ``needs``,
``when``, ``floating``, ``polling`` (endpoint -> ``ANY``/``ALL``) and ``reduce`` (as
``"module.function"``). Shards are one ``--executor name=targets`` per shard, under the
same name, in shard order. ``commands.gateway_spec`` reads them back into the
``ExecutorNode`` s the Flow's own gateway would get (``tests/unit/test_deployment.py``
checks the round trip).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from docwire.gateway.router import ExecutorNode
from docwire.gateway.topology import NodeTopology, ReduceHook, polling_table

__all__ = ["TopologyArgument", "executor_nodes", "reduce_name", "topology_argument"]

#: A chain link's polling: every endpoint to one shard.
_ANY = {"*": "ANY"}


def reduce_name(hook: ReduceHook | str, executor: str) -> str:
    """A reduce hook as ``module.function``, which another process imports.

    Raises:
        ValueError: the function is defined in a script or a function (another process cannot import it).
    """
    if isinstance(hook, str):
        return hook
    module, qualname = getattr(hook, "__module__", None), getattr(hook, "__qualname__", "")
    if module in (None, "__main__") or "<locals>" in qualname or "." in qualname:
        raise ValueError(
            f"executor {executor!r}: reduce={qualname or hook} is defined in a script or a function; "
            "a separate gateway needs an importable 'module.function'"
        )
    return f"{module}.{qualname}"


def topology_argument(name: str, topology: NodeTopology) -> str | None:
    """``name=JSON`` for ``--topology``, or None when ``topology`` is a chain link's (shards aside).

    Raises:
        ValueError: its reduce hook cannot be named (see ``reduce_name``).
    """
    fields: dict[str, Any] = {}
    if topology.needs:
        fields["needs"] = list(topology.needs)
    if topology.when is not None:
        fields["when"] = dict(topology.when)
    if topology.floating:
        fields["floating"] = True
    if dict(topology.polling) != _ANY:
        fields["polling"] = dict(topology.polling)
    if topology.reduce is not None:
        fields["reduce"] = reduce_name(topology.reduce, name)
    return f"{name}={json.dumps(fields, sort_keys=True)}" if fields else None


class TopologyArgument:
    """``--topology name=JSON`` as read: the executor's name and its topology but for ``shards``."""

    __slots__ = ("name", "topology")

    def __init__(self, name: str, topology: NodeTopology) -> None:
        self.name = name
        self.topology = topology

    @classmethod
    def parse(cls, text: str) -> TopologyArgument:
        """Reads ``name={"needs": [...], ...}``.

        Raises:
            argparse.ArgumentTypeError: not of that form, or a key or value the graph does not take.
        """
        name, sep, raw = text.partition("=")
        try:
            fields = json.loads(raw) if sep and name else None
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"--topology {text!r}: {exc}") from None
        if not isinstance(fields, dict):
            raise argparse.ArgumentTypeError(f"--topology {text!r} is not name={{JSON object}}")
        unknown = set(fields) - {"needs", "when", "floating", "polling", "reduce"}
        if unknown:
            raise argparse.ArgumentTypeError(f"--topology {name!r}: unknown keys {sorted(unknown)}")
        try:
            topology = NodeTopology(
                needs=tuple(fields.get("needs", ())),
                when=fields.get("when"),
                floating=bool(fields.get("floating", False)),
                polling=polling_table(fields.get("polling", "ANY"), name),
                reduce=fields.get("reduce"),
            )
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"--topology {name!r}: {exc}") from None
        return cls(name, topology)


def executor_nodes(
    targets: Sequence[tuple[str, tuple[str, ...]]], topologies: Mapping[str, NodeTopology]
) -> tuple[ExecutorNode, ...]:
    """The gateway's executors from ``--executor`` (a name repeated: one shard each) and ``--topology``.

    Raises:
        ValueError: a ``--topology`` names no ``--executor``.
    """
    shards: dict[str, list[tuple[str, ...]]] = {}
    for name, addresses in targets:
        shards.setdefault(name, []).append(addresses)
    strays = set(topologies) - set(shards)
    if strays:
        raise ValueError(f"--topology names executors without --executor: {', '.join(sorted(strays))}")
    nodes = []
    for name, grouped in shards.items():
        topology = replace(topologies.get(name, NodeTopology()), shards=len(grouped))
        flat = tuple(address for shard in grouped for address in shard)
        nodes.append(
            ExecutorNode(name, flat, topology=topology, shard_addresses=tuple(grouped) if len(grouped) > 1 else ())
        )
    return tuple(nodes)
