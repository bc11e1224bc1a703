"""A Flow's graph: refused when it cannot run, planned once per endpoint, chains kept on the chain path."""

from __future__ import annotations

from pathlib import Path

import pytest

from docwire.gateway.graph import GraphPlan, Planner
from docwire.gateway.router import ExecutorNode, Route
from docwire.gateway.topology import NodeTopology, TopologyError, check_topology, polling_table, resolved_needs
from docwire.orchestration.deployment import Deployment
from docwire.orchestration.flow import Flow


def _node(name: str, *needs: str, floating: bool = False, endpoints: tuple[str, ...] = ("/default",)) -> ExecutorNode:
    return ExecutorNode(name, ("a:1",), frozenset(endpoints), NodeTopology(needs=needs, floating=floating))


def test_needs_default_to_the_previous_executor_that_is_not_floating() -> None:
    nodes = [("a", NodeTopology()), ("f", NodeTopology(floating=True)), ("b", NodeTopology())]
    assert resolved_needs(nodes) == {"a": ("gateway",), "f": ("a",), "b": ("a",)}


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([("a", ()), ("a", ())], "two executors named 'a'"),
        ([("a", ()), ("b", ("nope",))], "executor 'b' needs 'nope', which is not an executor of the Flow"),
        ([("a", ("c",)), ("b", ("a",)), ("c", ("b",))], r"cycle: a -> c -> b -> a"),
        ([("a", ("a",))], r"cycle: a -> a"),
        ([("gateway", ())], "'gateway' is reserved"),
    ],
)
def test_a_graph_that_cannot_run_is_refused_naming_the_culprit(
    nodes: list[tuple[str, tuple[str, ...]]], message: str
) -> None:
    with pytest.raises(TopologyError, match=message):
        check_topology([(name, NodeTopology(needs=needs)) for name, needs in nodes])


def test_flow_add_refuses_unknown_needs_and_from_config_refuses_a_cycle(tmp_path: Path) -> None:
    flow = Flow().add(name="a")
    with pytest.raises(TopologyError, match="executor 'b' needs 'later'"):
        flow.add(name="b", needs=["a", "later"])
    yml = tmp_path / "flow.yml"
    yml.write_text("executors:\n  - {name: a, needs: b}\n  - {name: b, needs: a}\n")
    with pytest.raises(TopologyError, match=r"cycle: a -> b -> a"):
        Flow.load_config(yml)


def test_yaml_reads_every_graph_key(tmp_path: Path) -> None:
    yml = tmp_path / "flow.yml"
    yml.write_text(
        "executors:\n"
        "  - {name: a, needs: gateway, when: {tags__n: {$gt: 1}}}\n"
        "  - {name: b, needs: gateway, shards: 2, polling: {/search: ALL}}\n"
        "  - {name: c, needs: [a, b], reduce: my_module.my_reduce}\n"
        "  - {name: d, needs: gateway, floating: true}\n"
    )
    a, b, c, d = Flow.load_config(yml).executors
    assert a.topology.when == {"tags__n": {"$gt": 1}}
    assert (b.shards, b.topology.polls_all("/search"), b.topology.polls_all("/index")) == (2, True, False)
    assert (c.topology.needs, c.topology.reduce) == (("a", "b"), "my_module.my_reduce")
    assert d.topology.floating


def test_polling_is_per_endpoint_with_any_by_default() -> None:
    assert polling_table("all", "x") == {"*": "ALL"}
    assert polling_table({"index": "ANY", "/search": "ALL"}, "x") == {"*": "ANY", "/index": "ANY", "/search": "ALL"}
    with pytest.raises(TopologyError, match="executor 'x': polling 'SOME' for '\\*' must be ANY or ALL"):
        polling_table("SOME", "x")


def test_a_chain_is_planned_as_a_route() -> None:
    planner = Planner([_node("a"), _node("b", "a")])
    assert planner.is_chain
    route = planner.plan("/x", None)
    assert isinstance(route, Route)
    assert [n.name for n in route.executors] == ["a", "b"]
    assert planner.plan("/x", None) is route  # cached per endpoint and target


def test_a_graph_plan_orders_by_needs_and_merges_the_leaves() -> None:
    nodes = [
        _node("join", "left", "right"),
        _node("left", "gateway"),
        _node("right", "gateway", endpoints=("/index",)),
        _node("audit", "left", floating=True),
        _node("after_audit", "audit"),
        _node("tail", "gateway"),
    ]
    planner = Planner(nodes)
    assert not planner.is_chain
    plan = planner.plan("/search", None)
    assert isinstance(plan, GraphPlan)
    order = [p.name for p in plan.nodes]
    assert order.index("join") > max(order.index("left"), order.index("right"))
    by_name = {p.name: p for p in plan.nodes}
    assert not by_name["right"].serves  # it does not serve /search: its input passes on
    assert not by_name["audit"].on_path
    assert not by_name["after_audit"].on_path  # downstream of a floating executor
    assert plan.leaves == ("join", "tail")


def test_a_bad_when_or_polling_is_refused_when_the_flow_is_built() -> None:
    with pytest.raises(TopologyError, match=r"the when of executor 'a': unknown operator '\$near'"):
        Flow().add(name="a", when={"tags__n": {"$near": 1}})
    with pytest.raises(TopologyError, match="executor 'a': polling 'FIRST'"):
        Flow().add(name="a", shards=2, polling={"/search": "FIRST"})
    with pytest.raises(TopologyError, match="'gateway' is reserved"):
        Flow().add(name="gateway")


def test_a_deployment_takes_shards_and_polling() -> None:
    (executor,) = Deployment(name="index", shards=3, polling={"/search": "ALL"}).executors
    assert (executor.shards, executor.topology.polls_all("/search"), executor.topology.polls_all("/index")) == (
        3,
        True,
        False,
    )
