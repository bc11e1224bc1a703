"""A Flow of real processes, called with the real client: routing, replicas, parameters, results, routes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
import numpy as np
import pytest
from executors import EmbeddedDoc, Streamer, TextDoc
from processes import banner_ports, serve_yaml

from docwire import AsyncClient, Client, Deployment, DocList, Flow

MakeClient = Callable[..., Client]


def texts(n: int, prefix: str = "t") -> DocList[TextDoc]:
    return DocList[TextDoc]([TextDoc(text=f"{prefix}{i}") for i in range(n)])


def test_chain_runs_every_executor_in_order(chain: Flow, client_of: MakeClient) -> None:
    docs = client_of(chain).post("/embed", texts(3), return_type=DocList[EmbeddedDoc])
    assert docs.text == ["t0[first][second]", "t1[first][second]", "t2[first][second]"]
    embedding = docs[1].embedding
    assert embedding is not None
    assert embedding.dtype == np.float32
    assert embedding.tolist() == [len("t1[first][second]"), 0, 1, 2]


@pytest.mark.parametrize("inputs", [None, [], TextDoc(text="one"), texts(5), lambda: iter(texts(5))])
def test_every_input_kind_is_accepted(chain: Flow, client_of: MakeClient, inputs: Any) -> None:
    responses = client_of(chain).post("/anything", inputs, request_size=2, return_responses=True)
    n_docs = {type(None): 0, list: 0, TextDoc: 1}.get(type(inputs), 5)
    assert sum(len(r.docs) for r in responses) == n_docs
    assert len(responses) == max(1, -(-n_docs // 2))


def test_replicas_are_balanced_round_robin(chain: Flow, client_of: MakeClient) -> None:
    responses = client_of(chain).post("/x", texts(8), request_size=1, return_responses=True, prefetch=1)
    replicas = [
        r.parameters["__results__"]["first/rep-" + str(i)]["replica"]
        for r in responses
        for i in (0, 1)
        if f"first/rep-{i}" in r.parameters["__results__"]
    ]
    assert sorted(set(replicas)) == [0, 1]
    assert replicas.count(0) == replicas.count(1) == 4


def test_routes_list_the_gateway_first_then_each_executor(chain: Flow, client_of: MakeClient) -> None:
    (response,) = client_of(chain).post("/embed", texts(1), return_responses=True)
    assert [r.executor for r in response.routes] == ["gateway", "first", "second", "embedder"]
    gateway, *executors = response.routes
    for route in executors:
        assert gateway.start_time.ToNanoseconds() <= route.start_time.ToNanoseconds() <= route.end_time.ToNanoseconds()
        assert route.end_time.ToNanoseconds() <= gateway.end_time.ToNanoseconds()


def test_target_executor_and_results(adders: Flow, client_of: MakeClient) -> None:
    client = client_of(adders)
    assert client.post(on="/", target_executor="bar*", return_type=DocList[TextDoc]).text == [
        "barExecutor was here and got 0 document"
    ]
    assert client.post(on="/", return_type=DocList[TextDoc]).text == [
        "fooExecutor was here and got 0 document",
        "barExecutor was here and got 1 document",
    ]


def test_parameters_are_scoped_per_executor_and_results_collected(chain: Flow, client_of: MakeClient) -> None:
    params = {"shared": "s", "first__mode": "fast", "second__mode": "slow"}
    (response,) = client_of(chain).post("/x", texts(1), parameters=params, return_responses=True)
    results = response.parameters["__results__"]
    first = next(v for k, v in results.items() if k.startswith("first/rep-"))
    assert first["parameters"] == {"shared": "s", "mode": "fast"}
    assert results["second/rep-0"]["parameters"] == {"shared": "s", "mode": "slow"}
    # The client gets its own parameters back, plus every result.
    assert {k: v for k, v in response.parameters.items() if k != "__results__"} == params


def test_stream_keeps_many_requests_in_flight(chain: Flow, client_of: MakeClient) -> None:
    docs = client_of(chain).post("/x", texts(500), request_size=7, prefetch=10, results_in_order=True)
    assert docs.text == [f"t{i}[first][second]" for i in range(500)]


def test_async_client_yields_per_request(chain: Flow) -> None:
    import asyncio  # noqa: PLC0415

    async def run() -> list[int]:
        client = cast(AsyncClient, Client(port=chain.port, asyncio=True))  # the seeds' spelling
        sizes = [len(docs) async for docs in client.post("/x", texts(10), request_size=4)]
        await client.close()
        return sizes

    assert sorted(asyncio.run(run())) == [2, 4, 4]


def test_readiness_and_discovery(chain: Flow, client_of: MakeClient) -> None:
    client = client_of(chain)
    assert client.is_flow_ready()
    assert chain.is_flow_ready()
    endpoints = client.endpoints()
    assert "/embed" in endpoints
    assert endpoints["/embed"]["output"]["properties"]["embedding"]
    assert endpoints["/embed"]["input"]["title"] == "TextDoc"


def test_generator_endpoint_streams_documents() -> None:
    with Deployment(uses=Streamer, host="127.0.0.1") as dep:
        client = Client(port=dep.port)
        produced = client.stream_doc("/hello", TextDoc(text="hi"), parameters={"count": 4})
        assert [d.text for d in produced] == ["hi 0", "hi 1", "hi 2", "hi 3"]
        # post() on a generator endpoint collects what it yields.
        assert dep.post("/hello", TextDoc(text="x"), return_type=TextDoc).text == ["x 0", "x 1", "x 2"]
        client.close()


#: An incumbent's Flow, as its users write it: executor YAML with metas.py_modules, uses_with over its with,
#: an inline uses, replicas, and an upper-case protocol name.
JINA_FLOW = {
    "flow.yml": """\
        jtype: Flow
        version: '1'
        with:
          protocol: [GRPC, http]
          port: [0, 0]
          host: 127.0.0.1
        executors:
          - name: greeter
            uses: greeter.yml
            replicas: 2
            uses_with: {greeting: hello}
          - uses:
              jtype: Shouter
              metas: {py_modules: [jina_style.py]}
    """,
    "greeter.yml": """\
        jtype: Greeter
        with: {greeting: hi, punctuation: "!"}
        metas:
          py_modules:
            - jina_style.py
    """,
    "jina_style.py": """\
        from docarray import BaseDoc, DocList
        from docwire import Executor, requests

        class Text(BaseDoc):
            text: str = ""

        class Greeter(Executor):
            def __init__(self, greeting: str, punctuation: str, **kwargs):
                super().__init__(**kwargs)
                self.suffix = greeting + punctuation

            @requests(on="/greet")
            def greet(self, docs: DocList[Text], **kwargs):
                for doc in docs:
                    doc.text = f"{doc.text} {self.suffix}"

        class Shouter(Executor):
            @requests
            def shout(self, docs: DocList[Text], **kwargs):
                for doc in docs:
                    doc.text = doc.text.upper()
    """,
}


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder / "flow.yml"


def test_cli_serves_an_incumbent_flow_yaml_unchanged(tmp_path: Path) -> None:
    with serve_yaml(_write(tmp_path, JINA_FLOW)) as server:
        ports = banner_ports(server, 2)
        assert set(ports) == {"grpc", "http"}, "docwire serve printed no addresses"
        with Client(host=f"grpc://127.0.0.1:{ports['grpc']}") as client:
            docs = client.post("/greet", [TextDoc(text="a"), TextDoc(text="b")], return_type=TextDoc, request_size=1)
        assert sorted(docs.text) == ["A HELLO!", "B HELLO!"]
        reply = httpx.post(f"http://127.0.0.1:{ports['http']}/greet", json={"data": [{"text": "c"}]}, timeout=30)
        assert reply.json()["data"][0]["text"] == "C HELLO!"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0


def test_cli_refuses_unsupported_keys_naming_each_and_starts_nothing(tmp_path: Path) -> None:
    files = {
        **JINA_FLOW,
        "flow.yml": """\
            jtype: Flow
            executors:
              - name: greeter
                uses: greeter.yml
                gpus: all
                install_requirements: true
              - uses: {jtype: Shouter, metas: {py_modules: [jina_style.py]}}
                gpus: all
        """,
        "greeter.yml": "jtype: Greeter\nmetas: {py_modules: [jina_style.py]}\nrequests: {/greet: greet}\n",
    }
    flow_yml = _write(tmp_path, files)
    run = subprocess.run(
        [sys.executable, "-m", "docwire.cli", "serve", str(flow_yml)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(f"error: {flow_yml}: docwire does not support these keys, so nothing is started:\n")
    greeter = "\n  - executor 'greeter' (executors[0]): gpus, install_requirements (supported in an executor: "
    assert greeter in run.stderr
    assert "\n  - greeter.yml (the YAML of executor 'greeter'): requests (supported in an executor YAML: " in run.stderr
    assert "\n  - executor 'executor1' (executors[1]): gpus (supported in an executor: " in run.stderr
    assert "Traceback" not in run.stderr
    assert "Flow is ready" not in run.stderr
