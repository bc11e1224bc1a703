"""Flows beyond a chain, against real processes: needs (merge), when, floating, shards with polling and replicas."""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import wait_gone
from topology_executors import (
    Failing,
    FailingOnFloat,
    ShardIndex,
    Stamper,
    Tagger,
    Waiter,
    best_two,
)

from docwire import Client, Deployment, DocList, Document, Flow
from docwire_contract.errors import ExecutorError, ExecutorUnavailable


@pytest.fixture(scope="module")
def waiter_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("waiter")


@pytest.fixture(scope="module")
def dag(waiter_folder: Path) -> Iterator[Flow]:
    """Two branches from the gateway merged into a filtered join; a failing branch; two floating executors."""
    flow = (
        Flow(host="127.0.0.1", protocol=["grpc", "http"])
        .add(uses=Tagger, name="left", uses_with={"key": "left", "value": "L"}, needs="gateway")
        .add(uses=Tagger, name="right", uses_with={"key": "right", "value": "R", "text": "from right"}, needs="gateway")
        .add(uses=Stamper, name="join", needs=["left", "right"], when={"tags__n": {"$gte": 1}})
        .add(uses=Failing, name="boom", needs="gateway")
        .add(uses=Waiter, name="waiter", uses_with={"folder": str(waiter_folder)}, needs="gateway", floating=True)
        .add(uses=FailingOnFloat, name="sinker", needs="join", floating=True)
    )
    with flow:
        yield flow


def _client(flow: Flow, protocol: str) -> Client:
    return Client(host="127.0.0.1", port=flow.ports[protocol], protocol=protocol)


def _numbered(n: int) -> list[Document]:
    return [Document(id=f"d{i}", tags={"n": i}) for i in range(n)]


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_two_branches_are_merged_by_id_and_when_filters_the_join(dag: Flow, protocol: str) -> None:
    client = _client(dag, protocol)
    (response,) = client.post("/x", _numbered(3), return_responses=True)
    docs = response.docs
    assert docs.id == ["d0", "d1", "d2"]  # d0 skipped the join and kept its place
    assert docs.text == ["from right", "from right[join]", "from right[join]"]
    assert [doc.tags["left"] for doc in docs] == ["L"] * 3
    assert [doc.tags["right"] for doc in docs] == ["R"] * 3
    assert [r.executor for r in response.routes][:1] == ["gateway"]
    assert {"left", "right", "join"} <= {r.executor for r in response.routes}
    assert set(response.parameters["__results__"]) == {"left/rep-0", "right/rep-0"}
    client.close()


def test_a_client_stream_goes_through_the_graph_request_by_request(dag: Flow) -> None:
    client = _client(dag, "grpc")
    responses = client.post("/x", _numbered(20), request_size=2, return_responses=True)
    assert len(responses) == 10
    docs = sorted((doc for response in responses for doc in response.docs), key=lambda d: int(str(d.id)[1:]))
    assert [doc.id for doc in docs] == [f"d{i}" for i in range(20)]
    assert [doc.text for doc in docs] == ["from right"] + ["from right[join]"] * 19
    assert all(doc.tags["left"] == "L" and doc.tags["right"] == "R" for doc in docs)
    client.close()


def test_documents_no_filter_passes_skip_the_executor(dag: Flow) -> None:
    client = _client(dag, "grpc")
    (response,) = client.post("/x", [Document(id="zero", tags={"n": 0})], return_responses=True)
    assert response.docs.text == ["from right"]
    assert "join" not in {r.executor for r in response.routes}
    client.close()


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_a_failing_branch_fails_the_request_naming_its_executor(dag: Flow, protocol: str) -> None:
    client = _client(dag, protocol)
    with pytest.raises(ExecutorError, match="boom fails on purpose") as caught:
        client.post("/fail", _numbered(2))
    assert caught.value.executor == "boom"
    client.close()


def test_floating_executors_are_not_awaited_and_their_errors_are_not_returned(dag: Flow, waiter_folder: Path) -> None:
    client = _client(dag, "grpc")
    docs = client.post("/float", [Document(id="f", text="sent", tags={"n": 1})], return_type=DocList[Document])
    assert docs.text == ["sent[join]"]  # the waiter's change is not in the reply; the sinker's error neither
    assert not (waiter_folder / "done").exists()  # the waiter still waits: the reply did not wait for it
    (waiter_folder / "release").touch()
    done = waiter_folder / "done"
    for _ in range(600):  # bounded: the waiter writes the file as soon as it sees the release
        if done.exists() and done.read_text():
            break
        client.is_flow_ready()  # a round trip to the Flow, no sleeping
    assert done.read_text() == "released: sent"
    client.close()


def test_a_yaml_graph_is_served_and_a_branch_whose_replica_is_gone_fails_naming_executor_and_address(
    tmp_path: Path,
) -> None:
    (tmp_path / "flow.yml").write_text(
        "jtype: Flow\n"
        "with: {host: 127.0.0.1, protocol: http}\n"
        "executors:\n"
        "  - {name: alive, uses: topology_executors.Tagger, needs: gateway, uses_with: {key: alive}}\n"
        "  - {name: gone, uses: topology_executors.Tagger, needs: gateway, uses_with: {key: gone}}\n"
        "  - {name: last, uses: topology_executors.Stamper, needs: [alive, gone], when: {tags__n: {$lt: 1}}}\n"
    )
    with Flow.load_config(tmp_path / "flow.yml") as flow:
        client = _client(flow, "http")
        docs = client.post("/x", _numbered(2))
        assert [(doc.tags["alive"], doc.tags["gone"], doc.text) for doc in docs] == [
            ("alive", "gone", "[last]"),
            ("alive", "gone", None),
        ]
        gone_pid = flow.pids()[1]  # executors in the order added, then the gateway
        os.kill(gone_pid, signal.SIGKILL)
        assert wait_gone([gone_pid], timeout=30) == []
        (address,) = flow.executor_addresses["gone"]
        with pytest.raises(ExecutorUnavailable, match=rf"executor 'gone' at {re.escape(address)}"):
            client.post("/x", _numbered(1))
        client.close()


@pytest.fixture(scope="module")
def shards() -> Iterator[Flow]:
    """An index of 2 shards x 2 replicas, searched on every shard; one of 2 shards ranking with a reduce hook."""
    flow = (
        Flow(host="127.0.0.1")
        .add(uses=ShardIndex, name="index", shards=2, replicas=2, polling={"/search": "ALL", "*": "ANY"})
        .add(
            uses=ShardIndex,
            name="ranked",
            shards=2,
            needs="gateway",
            polling={"/index": "ANY", "*": "ALL"},
            reduce=best_two,
        )
    )
    with flow:
        yield flow


def test_any_polling_balances_shards_and_their_replicas_and_each_knows_its_shard(shards: Flow) -> None:
    client = _client(shards, "grpc")
    responses = client.post(
        "/index",
        [Document(text=f"d-{i}") for i in range(8)],
        request_size=1,
        prefetch=1,
        target_executor="index",
        return_responses=True,
    )
    hits = Counter(
        (int(result["shard"]), key.rsplit("/", 1)[1])
        for response in responses
        for key, result in response.parameters["__results__"].items()
    )
    assert hits == {(0, "rep-0"): 2, (0, "rep-1"): 2, (1, "rep-0"): 2, (1, "rep-1"): 2}
    (query,) = client.post("/search", [Document(text="q")], target_executor="index", return_type=DocList[Document])
    matches = query.matches or DocList[Document]()
    assert len(matches) == 4  # one replica of each shard, two documents each
    assert sorted(m.tags["shard"] for m in matches) == [0, 0, 1, 1]
    client.close()


def test_all_polling_merges_every_shard_through_the_reduce_hook(shards: Flow) -> None:
    client = _client(shards, "grpc")
    client.post("/index", [Document(text=f"r-{i}") for i in range(4)], request_size=1, target_executor="ranked")
    (counted,) = client.post("/count", target_executor="ranked", return_responses=True)
    results = counted.parameters["__results__"]
    assert results == {"ranked/shard-0/rep-0": {"count": 2}, "ranked/shard-1/rep-0": {"count": 2}}
    (query,) = client.post("/search", [Document(text="q")], target_executor="ranked", return_type=DocList[Document])
    matches = query.matches or DocList[Document]()
    assert [m.text for m in matches] == ["r-3", "r-2"]  # both shards' matches, ranked and cut to two by the hook
    assert [m.tags["shard"] for m in matches] == [1, 0]
    client.close()


def test_a_sharded_deployment_searches_every_shard_on_the_chain_path() -> None:
    with Deployment(uses=ShardIndex, name="index", shards=2, polling={"/search": "ALL"}, host="127.0.0.1") as dep:
        client = _client(dep, "grpc")
        client.post("/index", [Document(text=f"s-{i}") for i in range(4)], request_size=1)
        (query,) = client.post("/search", [Document(text="q")], return_type=DocList[Document])
        matches = query.matches or DocList[Document]()
        assert sorted((m.text, m.tags["shard"]) for m in matches) == [("s-0", 0), ("s-1", 1), ("s-2", 0), ("s-3", 1)]
        client.close()
