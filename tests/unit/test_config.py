"""A Flow YAML file and the Python API describe the same model."""

from __future__ import annotations

from pathlib import Path

import pytest

from docwire.orchestration.config import ExecutorConfig, load_flow_yaml
from docwire.orchestration.flow import Flow

EXAMPLE = Path(__file__).parents[2] / "examples" / "yaml_flow" / "flow.yml"


def test_example_flow_yaml() -> None:
    config, executors = load_flow_yaml(EXAMPLE)
    assert config.port == 0
    assert [(e.name, e.uses, e.replicas) for e in executors] == [("foo", "FooExec", 2), ("bar", "BarExec", 1)]
    assert executors[1].uses_with == {"suffix": "goodbye!"}
    assert all(Path(m).is_absolute() and Path(m).exists() for e in executors for m in e.py_modules)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("with: {prot: grpc}\n", "unknown Flow setting"),
        ("executors:\n  - {name: a, replica: 2}\n", "unknown key"),
        ("- just a list\n", "mapping at the top level"),
        ("with: {protocol: carrier}\n", "is not served"),
        ("with: {protocol: [grpc, http], port: [1]}\n", "one port per protocol"),
        ("with: {protocol: [grpc, grpc]}\n", "names a protocol twice"),
        ("executors:\n  - {name: a__b}\n", "must not contain '__'"),
    ],
)
def test_bad_yaml_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "flow.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_flow_yaml(path)


def test_python_api_builds_the_same_model() -> None:
    flow = Flow().add(uses="FooExec", name="foo", replicas=2).add(name="bar")
    assert [e.name for e in flow.executors] == ["foo", "bar"]
    assert flow.port is None  # chosen by the OS at start
    with pytest.raises(ValueError, match="already has an executor named 'foo'"):
        flow.add(name="foo")
    with pytest.raises(ValueError, match="replicas must be at least 1"):
        ExecutorConfig(name="x", replicas=0)


def test_yaml_flow_serves_several_protocols_each_on_its_port(tmp_path: Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_text("with: {protocol: [grpc, http], port: [12345, 12346]}\n")
    config, _ = load_flow_yaml(path)
    assert config.protocols == ("grpc", "http")
    assert config.ports == (12345, 12346)
    assert Flow.from_config(config, []).ports == {"grpc": 12345, "http": 12346}


def test_one_port_goes_to_the_first_protocol() -> None:
    flow = Flow(protocol=["http", "grpc"], port=8080)
    assert (flow.protocol, flow.port, flow.ports) == ("http", 8080, {"http": 8080, "grpc": 0})
