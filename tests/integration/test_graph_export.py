"""A graph Flow (needs, when, shards with ALL polling and a reduce hook) exported, then run from its manifests' args.

Each container's exact ``args`` (from ``kubernetes_manifests``) run as ``docwire executor serve`` /
``docwire gateway serve`` subprocesses on loopback: the executors on ports the OS chooses (the
manifests' fixed ports would clash on one host: every shard of an executor listens on the same port),
and the gateway's ``dns:///<service>...`` targets replaced by those addresses. The gateway reads the graph
back from ``--topology`` and ``--executor`` (one per shard), and its replies are the Flow's.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
from standalone import Served, start
from topology_executors import ShardIndex, Stamper, Tagger, best_two

from docwire import Client, DocList, Document, Flow
from docwire.orchestration.kubernetes import CLUSTER_DOMAIN, kubernetes_manifests

NAMESPACE = "graph"


def _exported() -> Flow:
    return (
        Flow()
        .add(uses=Tagger, name="left", uses_with={"key": "left", "value": "L"}, needs="gateway")
        .add(uses=Tagger, name="right", uses_with={"key": "right", "value": "R"}, needs="gateway")
        .add(uses=Stamper, name="join", needs=["left", "right"], when={"tags__n": {"$gte": 1}})
        .add(
            uses=ShardIndex,
            name="index",
            shards=2,
            needs="gateway",
            polling={"/search": "ALL", "*": "ANY"},
            reduce=best_two,
        )
    )


def _args(objects: list[dict[str, object]]) -> list[str]:
    deployment = objects[0]
    spec = deployment["spec"]
    assert isinstance(spec, dict)
    (container,) = spec["template"]["spec"]["containers"]
    return list(container["args"])


def _option(arguments: list[str], option: str, value: str) -> list[str]:
    at = arguments.index(option)
    return [*arguments[: at + 1], value, *arguments[at + 2 :]]


@pytest.fixture(scope="module")
def gateway() -> Iterator[Served]:
    manifests = kubernetes_manifests(_exported().config, _exported().executors, namespace=NAMESPACE)
    services = ["gateway", "index-shard-0", "index-shard-1", "join", "left", "right"]
    assert sorted(manifests) == [f"{name}.yml" for name in services]
    with ExitStack() as stack:
        gateway_args = _args(manifests.pop("gateway.yml"))
        executors = {file.removesuffix(".yml"): _args(objects) for file, objects in manifests.items()}
        local = [_option(_option(arguments, "--host", "127.0.0.1"), "--port", "0") for arguments in executors.values()]
        with ThreadPoolExecutor(max_workers=len(local)) as starting:  # each start waits for its process to serve
            futures = [starting.submit(start, arguments) for arguments in local]
        for future in futures:
            if future.exception() is None:  # every one that started is stopped, even if another failed
                stack.callback(future.result().stop)
        started = [future.result() for future in futures]
        for (service, arguments), served in zip(executors.items(), started, strict=True):
            target = f"dns:///{service}.{NAMESPACE}.{CLUSTER_DOMAIN}:{arguments[arguments.index('--port') + 1]}"
            gateway_args = [arg.replace(target, f"127.0.0.1:{served.port}") for arg in gateway_args]
        assert not [arg for arg in gateway_args if "dns:///" in arg]
        gateway_args = _option(_option(gateway_args, "--host", "127.0.0.1"), "--port", "0")
        served = start(gateway_args)
        stack.callback(served.stop)
        yield served


def test_the_exported_gateway_runs_the_graph_with_shards_when_and_reduce(gateway: Served) -> None:
    with Client(host=f"grpc://{gateway.addresses['grpc']}") as client:
        indexed = client.post(
            "/index", [Document(id=f"r{i}", text=f"r-{i}") for i in range(4)], request_size=1, return_responses=True
        )
        shards = sorted(
            int(result["shard"])
            for response in indexed
            for key, result in response.parameters["__results__"].items()
            if key.startswith("index/")
        )
        assert shards == [0, 0, 1, 1]  # ANY: the shards in turn, each knowing which it is (--shard-id)
        (query,) = client.post("/search", [Document(id="q", text="q", tags={"n": 1})], return_type=DocList[Document])
        (skipped,) = client.post("/search", [Document(id="s", text="s", tags={"n": 0})], return_type=DocList[Document])
    assert (query.tags["left"], query.tags["right"], query.text) == ("L", "R", "q[join]")  # merged, then stamped
    matches = query.matches or DocList[Document]()
    assert [(m.text, m.tags["shard"]) for m in matches] == [("r-3", 1), ("r-2", 0)]  # ALL shards, best_two
    assert (skipped.tags["left"], skipped.tags["right"], skipped.text) == ("L", "R", "s")  # when: join let it by
