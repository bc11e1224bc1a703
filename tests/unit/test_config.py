"""A Flow YAML file and the Python API describe the same model."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from docwire.orchestration.config import ExecutorConfig, FlowConfig, load_flow_yaml
from docwire.orchestration.flow import Flow
from docwire.orchestration.yaml_schema import SUPPORTED_KEYS, Section, UnsupportedConfig

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
        ("with: {prot: grpc}\n", r"with: prot \(supported in the Flow's with: auth_tokens, cors, error_details, "),
        ("executors:\n  - {name: a, replica: 2}\n", r"executor 'a' \(executors\[0\]\): replica \(supported in an"),
        ("jtype: Deployment\n", "jtype: 'Deployment': a Flow YAML file has jtype: Flow"),
        ("executors: {a: 1}\n", "executors: must be a list of executors, not dict"),
        ("executors:\n  - just a name\n", r"executors\[0\]: an executor must be a mapping, not str"),
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


def test_the_supported_keys_are_the_models_fields() -> None:
    """The one table of supported keys and the model it fills cannot drift apart."""
    assert {f.name for f in dataclasses.fields(FlowConfig)} == SUPPORTED_KEYS[Section.FLOW_WITH]
    assert {f.name for f in dataclasses.fields(ExecutorConfig)} == SUPPORTED_KEYS[Section.EXECUTOR]


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder / "flow.yml"


def test_an_incumbent_flow_yaml_loads_unchanged(tmp_path: Path) -> None:
    flow_yml = _write(
        tmp_path,
        {
            "flow.yml": """\
                jtype: Flow
                version: '1'
                with:
                  protocol: [GRPC, http]
                  port: [12345, 12346]
                  cors: true
                executors:
                  - name: encoder
                    uses: encoder.yml
                    replicas: 2
                    uses_with: {model: small}
                  - name: indexer
                    uses: Indexer
                    py_modules: [indexer.py]
                    workspace: ./index
                  - uses:
                      jtype: Ranker
                      with: {top_k: 3}
                      metas: {py_modules: ranker.py}
            """,
            "encoder.yml": """\
                jtype: Encoder
                with: {model: large, device: cpu}
                metas:
                  py_modules:
                    - encoder.py
            """,
        },
    )
    config, executors = load_flow_yaml(flow_yml)
    assert (config.protocols, config.ports, config.cors) == (("grpc", "http"), (12345, 12346), True)
    encoder, indexer, ranker = executors
    assert (encoder.name, encoder.uses, encoder.replicas) == ("encoder", "Encoder", 2)
    assert encoder.uses_with == {"model": "small", "device": "cpu"}  # the Flow's uses_with wins over the YAML's with
    assert encoder.py_modules == (str(tmp_path / "encoder.py"),)
    assert (indexer.uses, indexer.py_modules, indexer.workspace) == (
        "Indexer",
        (str(tmp_path / "indexer.py"),),
        "./index",
    )
    assert (ranker.name, ranker.uses, ranker.uses_with) == ("executor2", "Ranker", {"top_k": 3})
    assert ranker.py_modules == (str(tmp_path / "ranker.py"),)


def test_every_unsupported_key_is_named_with_its_place_in_one_error(tmp_path: Path) -> None:
    flow_yml = _write(
        tmp_path,
        {
            "flow.yml": """\
                jtype: Flow
                gateway: {uses: MyGateway}
                with:
                  retries: 3
                  uvicorn_kwargs: {loop: asyncio}
                executors:
                  - name: encoder
                    uses: encoder.yml
                    shards: 2
                    polling: ALL
                    uses_metas: {name: x}
                    uses_requests: {/index: encode}
                  - name: indexer
                    uses: jinaai://jina-ai/SimpleIndexer
                    needs: [encoder]
                    when: {tags__key: {$eq: 5}}
                    env: {A: "1"}
                    gpus: all
                    install_requirements: true
                    timeout_send: 1000
                  - name: remote
                    external: true
                    host: 10.0.0.2
                    port: 9000
                    floating: true
                    env_from_secret: {A: secret}
                    grpc_channel_options: {x: 1}
            """,
            "encoder.yml": """\
                jtype: Encoder
                metas:
                  py_modules: [encoder.py]
                  description: encodes
                requests:
                  /index: encode
                dynamic_batching:
                  /index: {preferred_batch_size: 8}
            """,
        },
    )
    with pytest.raises(UnsupportedConfig) as caught:
        load_flow_yaml(flow_yml)
    executor_keys = f"(supported in an executor: {', '.join(sorted(SUPPORTED_KEYS[Section.EXECUTOR]))})"
    flow_keys = ", ".join(sorted(SUPPORTED_KEYS[Section.FLOW_WITH]))
    assert caught.value.findings == (
        "the top level: gateway (supported in the Flow: executors, jtype, version, with)",
        f"with: retries, uvicorn_kwargs (supported in the Flow's with: {flow_keys})",
        f"executor 'encoder' (executors[0]): uses_metas, uses_requests {executor_keys}",
        "encoder.yml (the YAML of executor 'encoder'): requests, dynamic_batching "
        "(supported in an executor YAML: jtype, metas, py_modules, with)",
        "encoder.yml (the YAML of executor 'encoder'): metas.description "
        "(supported in an executor YAML's metas: metas.py_modules)",
        "executor 'indexer' (executors[1]): gpus, install_requirements, timeout_send " + executor_keys,
        "executor 'indexer' (executors[1]): uses 'jinaai://jina-ai/SimpleIndexer': docwire runs Executor classes "
        "from Python code ('module.Class', a class in py_modules, or an executor YAML file), not Hub or container "
        "images or remote executors",
        f"executor 'remote' (executors[2]): env_from_secret, grpc_channel_options {executor_keys}",
    )
    assert str(caught.value).startswith(f"{flow_yml}: docwire does not support these keys, so nothing is started:\n")
    assert "\n  - executor 'remote' (executors[2]): env_from_secret, grpc_channel_options" in str(caught.value)


def test_an_executor_yaml_given_to_flow_add_is_checked_too(tmp_path: Path) -> None:
    (tmp_path / "encoder.yml").write_text("jtype: Encoder\nrequests: {/index: encode}\n")
    with pytest.raises(UnsupportedConfig, match=r"encoder.yml: requests \(supported in an executor YAML"):
        Flow().add(uses=str(tmp_path / "encoder.yml"))
