"""Placement (host, port, external), the standalone command lines, and the manifests built from a Flow: pure logic."""

from __future__ import annotations

import argparse
import dataclasses
import textwrap
from pathlib import Path

import pytest

from docwire import Executor, Flow
from docwire.gateway.balancing import balancing_options, is_balanced
from docwire.orchestration.commands import (
    ExecutorTarget,
    add_executor_arguments,
    add_gateway_arguments,
    executor_arguments,
    gateway_arguments,
    gateway_spec,
    worker_spec,
)
from docwire.orchestration.compose import compose_file
from docwire.orchestration.config import ExecutorConfig, FlowConfig, load_flow_yaml
from docwire.orchestration.export_plan import plan_services, service_name
from docwire.orchestration.kubernetes import kubernetes_manifests
from docwire.orchestration.placement import dial_address, reachable_host
from docwire.orchestration.topology_arguments import TopologyArgument


class Local(Executor):
    pass


def _parse(add: object, arguments: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add(parser)  # type: ignore[operator]
    return parser.parse_args(arguments[2:])  # past "executor serve" / "gateway serve"


def test_flow_yaml_reads_host_port_external_and_env(tmp_path: Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_text(
        textwrap.dedent("""\
            executors:
              - {name: near, host: 0.0.0.0, port: 9100, env: {A: 1}}
              - {name: far, host: 10.0.0.2, port: 8081, external: true}
        """)
    )
    _, (near, far) = load_flow_yaml(path)
    assert (near.host, near.port, near.external, dict(near.env)) == ("0.0.0.0", 9100, False, {"A": "1"})
    assert (far.host, far.port, far.external) == ("10.0.0.2", 8081, True)


def test_an_external_executor_needs_its_address_and_one_replica() -> None:
    with pytest.raises(ValueError, match="needs the host and port it is served at"):
        Flow().add(name="remote", host="10.0.0.2", external=True)
    with pytest.raises(ValueError, match="its replicas are its server's business"):
        Flow().add(name="remote", host="10.0.0.2", port=8081, external=True, replicas=2)
    with pytest.raises(ValueError, match="port 70000 is not a TCP port"):
        ExecutorConfig(name="x", port=70000)


@pytest.mark.parametrize(
    ("host", "port", "target"),
    [
        ("10.0.0.2", 8081, "10.0.0.2:8081"),
        ("::1", 8081, "[::1]:8081"),
        ("dns:///encoder.ns.svc", 8081, "dns:///encoder.ns.svc:8081"),
        ("dns://127.0.0.1:53/encoder", 8081, "dns://127.0.0.1:53/encoder:8081"),
    ],
)
def test_dial_address(host: str, port: int, target: str) -> None:
    assert dial_address(host, port) == target


def test_a_server_bound_to_every_interface_is_dialled_on_loopback() -> None:
    assert [reachable_host(h) for h in ("0.0.0.0", "::", "127.0.0.2")] == ["127.0.0.1", "::1", "127.0.0.2"]


def test_dns_targets_are_balanced_round_robin_by_grpc() -> None:
    assert is_balanced("dns:///encoder:8081")
    assert not is_balanced("127.0.0.1:8081")
    assert ("grpc.lb_policy_name", "round_robin") in balancing_options("dns:///encoder:8081")
    assert balancing_options("127.0.0.1:8081") == []


def test_executor_command_line_reads_back_into_the_same_spec() -> None:
    config = ExecutorConfig(
        uses="pkg.Encoder",
        name="enc",
        uses_with={"model": "small", "n": 2},
        py_modules=("a.py",),
        workspace="/w",
        max_concurrency=4,
        uses_dynamic_batching={"/embed": {"preferred_batch_size": 8, "timeout": 10}},
    )
    arguments = executor_arguments(config, 8100, max_message_bytes=1234, max_connection_age=30, error_details="message")
    assert arguments[:2] == ["executor", "serve"]
    spec = worker_spec(_parse(add_executor_arguments, arguments))
    assert (spec.uses, spec.name, spec.uses_with, spec.py_modules) == (
        "pkg.Encoder",
        "enc",
        {"model": "small", "n": 2},
        ("a.py",),
    )
    assert (spec.host, spec.port, spec.workspace, spec.max_message_bytes) == ("0.0.0.0", 8100, "/w", 1234)
    assert (spec.max_connection_age, spec.error_details) == (30, "message")
    assert (spec.max_concurrency, spec.uses_dynamic_batching) == (
        4,
        {"/embed": {"preferred_batch_size": 8, "timeout": 10}},
    )


def test_gateway_command_line_reads_back_into_the_same_spec() -> None:
    flow = FlowConfig(protocol=["grpc", "http"], prefetch=7, max_inflight=50, http_read_timeout=5)
    targets = [ExecutorTarget("a", ("dns:///a.ns.svc.cluster.local:8100",)), ExecutorTarget("b", ("h1:1", "h2:2"))]
    spec = gateway_spec(_parse(add_gateway_arguments, gateway_arguments(flow, targets, (8080, 8081))))
    assert [(n.name, n.addresses) for n in spec.executors] == [
        ("a", ("dns:///a.ns.svc.cluster.local:8100",)),
        ("b", ("h1:1", "h2:2")),
    ]
    assert (spec.protocols, spec.ports, spec.prefetch, spec.host) == (("grpc", "http"), (8080, 8081), 7, "0.0.0.0")
    assert (spec.max_inflight, spec.http_read_timeout) == (50, 5)


def test_gateway_command_line_needs_executors() -> None:
    with pytest.raises(ValueError, match="give the executors"):
        gateway_spec(_parse(add_gateway_arguments, ["gateway", "serve"]))
    with pytest.raises(argparse.ArgumentTypeError, match="is not name=host:port"):
        ExecutorTarget.parse("just-a-name")


def test_a_class_another_process_cannot_import_cannot_be_exported() -> None:
    class Hidden(Executor):
        pass

    with pytest.raises(ValueError, match=r"importable 'module\.Class'"):
        plan_services(FlowConfig(), Flow().add(uses=Hidden, name="hidden").executors, str)
    (_, plan) = plan_services(FlowConfig(), Flow().add(uses=Local, name="local").executors, str)
    assert plan.arguments[plan.arguments.index("--uses") + 1] == f"{__name__}.Local"


def test_service_names_are_dns_labels() -> None:
    assert service_name("My_Encoder") == "my-encoder"
    for bad in ("9lives", "gateway", "x" * 64, "a.b"):
        with pytest.raises(ValueError, match="cannot name a service"):
            service_name(bad)


def test_kubernetes_manifests_from_a_flow() -> None:
    flow = (
        Flow(protocol=["grpc", "http"])
        .add(uses="pkg.Encoder", name="encoder", replicas=3, env={"OMP_NUM_THREADS": "1"})
        .add(name="remote", host="10.0.0.2", port=8081, external=True)
        .add(uses="pkg.Indexer", name="indexer", port=9000)
    )
    files = kubernetes_manifests(flow.config, flow.executors, namespace="search", image="reg/docwire:1")
    assert list(files) == ["gateway.yml", "encoder.yml", "indexer.yml"]  # nothing for the external one
    (deployment, service) = files["encoder.yml"]
    assert deployment["metadata"] == {
        "name": "encoder",
        "namespace": "search",
        "labels": {
            "app.kubernetes.io/name": "encoder",
            "app.kubernetes.io/component": "executor",
            "app.kubernetes.io/part-of": "docwire",
        },
    }
    assert deployment["spec"]["replicas"] == 3
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "reg/docwire:1"
    assert container["args"][:8] == ["executor", "serve", "--name", "encoder", "--host", "0.0.0.0", "--port", "8100"]
    assert container["env"] == [{"name": "OMP_NUM_THREADS", "value": "1"}]
    assert container["readinessProbe"] == {"grpc": {"port": 8100}, "periodSeconds": 5}
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["ports"] == [{"name": "grpc", "port": 8100, "targetPort": 8100, "protocol": "TCP"}]
    (gateway, gateway_service) = files["gateway.yml"]
    args = gateway["spec"]["template"]["spec"]["containers"][0]["args"]
    executors = [args[i + 1] for i, a in enumerate(args) if a == "--executor"]
    assert executors == [
        "encoder=dns:///encoder.search.svc.cluster.local:8100",
        "remote=10.0.0.2:8081",
        "indexer=dns:///indexer.search.svc.cluster.local:9000",
    ]
    assert "clusterIP" not in gateway_service["spec"]
    assert [p["port"] for p in gateway_service["spec"]["ports"]] == [8080, 8081]


def test_a_gateway_without_grpc_is_probed_on_its_port() -> None:
    flow = Flow(protocol="http", port=9000).add(name="e")
    (gateway, _) = kubernetes_manifests(flow.config, flow.executors)["gateway.yml"]
    assert gateway["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["tcpSocket"] == {"port": 9000}


def test_auth_tokens_are_never_written_but_taken_from_a_secret() -> None:
    flow = Flow(auth_tokens=["s3cret"]).add(name="e")
    (gateway, _) = kubernetes_manifests(flow.config, flow.executors)["gateway.yml"]
    (container,) = gateway["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [
        {
            "name": "DOCWIRE_AUTH_TOKENS",
            "valueFrom": {"secretKeyRef": {"name": "docwire-auth", "key": "DOCWIRE_AUTH_TOKENS"}},
        }
    ]
    compose = compose_file(flow.config, flow.executors)
    assert compose["services"]["gateway"]["environment"] == {
        "DOCWIRE_AUTH_TOKENS": "${DOCWIRE_AUTH_TOKENS:?set DOCWIRE_AUTH_TOKENS for the gateway}"
    }
    assert "s3cret" not in repr(gateway) + repr(compose)


def test_compose_file_from_a_flow() -> None:
    flow = Flow().add(uses="pkg.Encoder", name="encoder", replicas=2, env={"A": "1"})
    services = compose_file(flow.config, flow.executors, image="docwire:test")["services"]
    assert list(services) == ["gateway", "encoder"]
    assert services["encoder"]["deploy"] == {"replicas": 2}
    assert services["encoder"]["environment"] == {"A": "1"}
    assert services["gateway"]["ports"] == ["8080:8080"]
    assert services["gateway"]["depends_on"] == ["encoder"]
    assert "encoder=dns:///encoder:8100" in services["gateway"]["command"]


def best_of(docs_matrix: list[object]) -> object:
    """A reduce hook another process can import (this module's)."""
    return docs_matrix[0]


def test_a_graph_flow_is_exported_and_its_gateway_command_line_reads_back_into_the_same_graph() -> None:
    flow = (
        Flow()
        .add(name="encoder", uses="executors.Appender")
        .add(name="left", uses="executors.Appender", needs="encoder", when={"tags__n": {"$gte": 1}})
        .add(name="right", uses="executors.Appender", needs="encoder", shards=2, replicas=3, reduce=best_of,
             polling={"/search": "ALL"})
        .add(name="join", uses="executors.Appender", needs=["left", "right"])
        .add(name="audit", uses="executors.Appender", needs="gateway", floating=True)
    )  # fmt: skip
    plans = plan_services(flow.config, flow.executors, str)
    assert [(p.name, p.replicas) for p in plans] == [
        ("gateway", 1),
        ("encoder", 1),
        ("left", 1),
        ("right-shard-0", 3),
        ("right-shard-1", 3),
        ("join", 1),
        ("audit", 1),
    ]
    shard_ids = [worker_spec(_parse(add_executor_arguments, list(p.arguments))).shard_id for p in plans[3:5]]
    assert shard_ids == [0, 1]
    spec = gateway_spec(_parse(add_gateway_arguments, list(plans[0].arguments)))
    declared = {config.name: config.topology for config in flow.executors}
    assert [node.name for node in spec.executors] == list(declared)
    for node in spec.executors:
        expected = declared[node.name]
        if node.name == "right":
            assert node.topology.reduce == f"{__name__}.best_of"
            expected = dataclasses.replace(expected, reduce=node.topology.reduce)
        assert node.topology == expected, node.name
    right = next(node for node in spec.executors if node.name == "right")
    assert right.shards == (("dns:///right-shard-0:8102",), ("dns:///right-shard-1:8102",))
    assert right.topology.polls_all("/search")
    assert not right.topology.polls_all("/index")
    chain = Flow().add(name="a", uses="executors.Appender").add(name="b", uses="executors.Appender")
    assert "--topology" not in plan_services(chain.config, chain.executors, str)[0].arguments


def test_a_graph_that_cannot_be_exported_says_why() -> None:
    def local_hook(docs_matrix: list[object]) -> object:
        return docs_matrix[0]

    flow = Flow().add(name="a", uses="executors.Appender", shards=2, reduce=local_hook)
    with pytest.raises(ValueError, match=r"reduce=.*local_hook is defined in a script or a function"):
        plan_services(flow.config, flow.executors, str)
    with pytest.raises(argparse.ArgumentTypeError, match="unknown keys"):
        TopologyArgument.parse('a={"shard": 2}')
    arguments = ["gateway", "serve", "--executor", "a=h:1", "--topology", 'b={"needs": ["a"]}']
    with pytest.raises(ValueError, match="without --executor: b"):
        gateway_spec(_parse(add_gateway_arguments, arguments))
    arguments = ["gateway", "serve", "--executor", "a=h:1", "--topology", 'a={"needs": ["nobody"]}']
    with pytest.raises(ValueError, match="needs 'nobody'"):
        gateway_spec(_parse(add_gateway_arguments, arguments))
