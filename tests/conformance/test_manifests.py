"""What `docwire export` writes is valid (kubeconform, the compose schema), the Dockerfile lints, and the
commands the manifests run serve a working Flow outside a container."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from docwire import Flow
from docwire.cli import main
from docwire.orchestration.kubernetes import kubernetes_manifests
from tests.conformance.support import REPO_ROOT, tool_path

EXAMPLE = REPO_ROOT / "examples" / "deploy"
#: The Kubernetes version whose schemas the manifests are checked against (kubernetes-validate ships them).
KUBERNETES_VERSION = "1.37.0"
#: The compose specification's schema, from the Go module github.com/compose-spec/compose-go/v2 (`make tools`).
COMPOSE_SCHEMA = REPO_ROOT / ".build" / "schemas" / "compose-spec.json"


def _docwire(*arguments: str) -> None:
    """``docwire <arguments>``, in this process (the command is the same function; no interpreter to start)."""
    assert main(list(arguments)) == 0


@pytest.fixture(scope="module")
def kubernetes_schemas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kubernetes-validate's schemas as files kubeconform reads offline.

    Their ``$id`` and ``$ref`` point at https://kubernetes.io/api/..., which kubeconform would fetch; here
    they refer to each other by file name instead (the content is unchanged).
    """
    shipped = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    source = shipped / f"v{KUBERNETES_VERSION}-local-strict"
    target = tmp_path_factory.mktemp("kubernetes-schemas")
    for name in ("_definitions.json", "deployment-apps-v1.json", "service-v1.json"):
        schema = json.loads((source / name).read_text().replace('"/api/_definitions.json#', '"_definitions.json#'))
        schema.pop("$id", None)
        (target / name).write_text(json.dumps(schema))
    return target


def _kubeconform(schemas: Path, *paths: Path) -> dict[str, Any]:
    run = subprocess.run(
        [
            str(tool_path("kubeconform")), "-strict", "-summary", "-output", "json",
            "-kubernetes-version", KUBERNETES_VERSION,
            "-schema-location", f"{schemas}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            *map(str, paths),
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    report: dict[str, Any] = json.loads(run.stdout)
    report["exit_code"] = run.returncode
    return report


def test_exported_kubernetes_manifests_pass_kubeconform(tmp_path: Path, kubernetes_schemas: Path) -> None:
    _docwire("export", "kubernetes", str(EXAMPLE / "flow.yml"), str(tmp_path / "example"), "--namespace", "demo")
    # An HTTP-only gateway (probed on its TCP port), an external executor, several protocols and ports.
    flow = (
        Flow(protocol=["http", "websocket"], port=[9000, 9001], auth_tokens=["t"])
        .add(uses="docwire.executor.base.Executor", name="my_encoder", replicas=3, port=7000, env={"A": "1"})
        .add(name="remote", host="10.0.0.2", port=8081, external=True)
    )
    flow.to_kubernetes_yaml(tmp_path / "api", k8s_namespace="search")
    files = sorted((tmp_path / "example").glob("*.yml")) + sorted((tmp_path / "api").glob("*.yml"))
    assert [f.name for f in files] == ["exclaimer.yml", "gateway.yml", "shouter.yml", "gateway.yml", "my-encoder.yml"]
    report = _kubeconform(kubernetes_schemas, *files)
    assert report["summary"] == {"valid": 10, "invalid": 0, "errors": 0, "skipped": 0}, report
    assert report["exit_code"] == 0


def _graph_flow() -> Flow:
    """needs, when, floating, shards with per-endpoint polling and a reduce hook: a graph, not a chain."""
    return (
        Flow()
        .add(uses="topology_executors.Tagger", name="left", needs="gateway")
        .add(uses="topology_executors.Tagger", name="right", needs="gateway", when={"tags__n": {"$gte": 1}})
        .add(
            uses="topology_executors.ShardIndex", name="index", needs=["left", "right"], shards=2, replicas=2,
            polling={"/search": "ALL"}, reduce="topology_executors.best_two",
        )
        .add(uses="topology_executors.Stamper", name="audit", needs="gateway", floating=True)
    )  # fmt: skip


def test_an_exported_graph_with_shards_passes_kubeconform_and_the_compose_schema(
    tmp_path: Path, kubernetes_schemas: Path
) -> None:
    _graph_flow().to_kubernetes_yaml(tmp_path / "k8s", k8s_namespace="graph")
    files = sorted((tmp_path / "k8s").glob("*.yml"))
    assert [f.name for f in files] == [
        "audit.yml", "gateway.yml", "index-shard-0.yml", "index-shard-1.yml", "left.yml", "right.yml"
    ]  # fmt: skip
    report = _kubeconform(kubernetes_schemas, *files)
    assert report["summary"] == {"valid": 12, "invalid": 0, "errors": 0, "skipped": 0}, report
    args = next(yaml.safe_load_all((tmp_path / "k8s" / "gateway.yml").read_text()))["spec"]["template"]["spec"][
        "containers"
    ][0]["args"]
    assert [args[i + 1] for i, arg in enumerate(args) if arg == "--topology"] == [
        'left={"needs": ["gateway"]}',
        'right={"needs": ["gateway"], "when": {"tags__n": {"$gte": 1}}}',
        'index={"needs": ["left", "right"], "polling": {"*": "ANY", "/search": "ALL"}, '
        '"reduce": "topology_executors.best_two"}',
        'audit={"floating": true, "needs": ["gateway"]}',
    ]
    if not COMPOSE_SCHEMA.is_file():
        pytest.fail(f"{COMPOSE_SCHEMA} is missing: run `make tools`", pytrace=False)
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    _graph_flow().to_docker_compose_yaml(str(tmp_path / "compose.yml"))
    content = yaml.safe_load((tmp_path / "compose.yml").read_text())
    assert [e.message for e in jsonschema.validators.validator_for(schema)(schema).iter_errors(content)] == []
    assert content["services"]["index-shard-1"]["deploy"] == {"replicas": 2}
    command = content["services"]["gateway"]["command"]
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "--executor"] == [
        "left=dns:///left:8100",
        "right=dns:///right:8101",
        "index=dns:///index-shard-0:8102",
        "index=dns:///index-shard-1:8102",
        "audit=dns:///audit:8103",
    ]


def test_kubeconform_refuses_what_kubernetes_would(tmp_path: Path, kubernetes_schemas: Path) -> None:
    """The schemas are really read: a wrong type and an unknown field fail."""
    (deployment, service) = kubernetes_manifests(Flow().config, Flow().add(name="e").executors)["e.yml"]
    deployment["spec"]["replicas"] = "two"
    service["spec"]["clusterIp"] = "None"
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump_all([deployment, service]))
    report = _kubeconform(kubernetes_schemas, bad)
    assert report["summary"]["invalid"] == 2
    assert report["exit_code"] == 1


def test_exported_compose_file_matches_the_compose_specification(tmp_path: Path) -> None:
    if not COMPOSE_SCHEMA.is_file():
        pytest.fail(f"{COMPOSE_SCHEMA} is missing: run `make tools`", pytrace=False)
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    _docwire("export", "compose", str(EXAMPLE / "flow.yml"), str(tmp_path / "compose.yml"))
    content = yaml.safe_load((tmp_path / "compose.yml").read_text())
    assert [e.message for e in validator.iter_errors(content)] == []
    assert content["services"]["shouter"]["deploy"] == {"replicas": 2}
    assert "encoder=dns:///shouter:8100" not in content["services"]["gateway"]["command"]
    assert "shouter=dns:///shouter:8100" in content["services"]["gateway"]["command"]
    content["services"]["gateway"]["ports"] = "8080"  # and the schema does refuse what compose would
    assert [e.message for e in validator.iter_errors(content)] != []


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    run = subprocess.run([str(hadolint), str(REPO_ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_the_commands_the_manifests_run_serve_the_flow(tmp_path: Path) -> None:
    """Each container's exact args, run in a network namespace with a cluster-like DNS (see pod_network.py)."""
    _docwire("export", "kubernetes", str(EXAMPLE / "flow.yml"), str(tmp_path), "--namespace", "demo")
    gateway = yaml.safe_load_all((tmp_path / "gateway.yml").read_text())
    args = next(gateway)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "shouter=dns:///shouter.demo.svc.cluster.local:8100" in args
    driver = Path(__file__).with_name("pod_network.py")
    run = subprocess.run(
        ["unshare", "--net", "--mount", sys.executable, str(driver), str(tmp_path), str(EXAMPLE)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["probes"] == {"gateway:8080": "SERVING", "executor:8100": "SERVING", "executor:8101": "SERVING"}
    assert report["texts"] == ["HELLO!!"]  # the container's env (EXCLAIM_MARK) wins over uses_with
    assert report["exit_codes"] == [0, 0, 0]
