"""Dynamic batching and per-replica concurrency, against real executor processes.

Batches here wait up to a minute for their preferred size, so which requests share a call is
decided by counts, not by timing; deadlines are the executor's own (``header.timeout``) where a
test must see the executor answer one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from batching_executors import BatchRecorder, CountedDoc, Gate, TextDoc

from docwire import Client, Deployment, DocList, DocumentSchemaError, ExecutorError, RequestTimeout
from docwire.gateway.forwarding import forward
from docwire.gateway.replica_streams import UpstreamStreams
from docwire.gateway.router import ExecutorNode
from docwire.gateway.upstream import ReplicaPool
from docwire_client.inputs import RequestSpec, build_request

MAX_MESSAGE = 64 * 1024 * 1024
_ids = itertools.count()


@pytest.fixture(scope="module")
def recorder() -> Iterator[Deployment]:
    deployment = Deployment(
        uses=BatchRecorder,
        name="recorder",
        host="127.0.0.1",
        uses_dynamic_batching={"/configured": {"preferred_batch_size": 4, "timeout": 60_000}},
    )
    with deployment:
        yield deployment


@pytest.fixture(scope="module")
def gate() -> Iterator[Deployment]:
    deployment = Deployment(uses=Gate, name="gate", host="127.0.0.1", max_concurrency=1)
    with deployment:
        yield deployment


def unique(prefix: str, n: int) -> list[str]:
    """``n`` texts no other test sends to the same executor."""
    run = next(_ids)
    return [f"{prefix}{run}-{i}" for i in range(n)]


def concurrently(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Runs every call at once, each on its own thread (and so its own client stream); results or exceptions."""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [f.exception() or f.result() for f in futures]


def post_one(client: Client, endpoint: str, text: str, **kwargs: Any) -> Callable[[], list[str]]:
    def call() -> list[str]:
        docs = client.post(endpoint, DocList[TextDoc]([TextDoc(text=text)]), return_type=DocList[TextDoc], **kwargs)
        return [d.text for d in docs]

    return call


def batches_with(client: Client, texts: Sequence[str]) -> list[list[str]]:
    """The calls the recorder made that held any of ``texts``."""
    (response,) = client.post("/batches", return_responses=True)
    recorded: list[list[str]] = response.parameters["__results__"]["recorder/rep-0"]["batches"]
    return [batch for batch in recorded if set(batch) & set(texts)]


def test_requests_of_many_clients_share_calls_and_each_gets_its_own_documents(recorder: Deployment) -> None:
    client = Client(host="127.0.0.1", port=recorder.port)
    texts = unique("c", 16)
    replies = concurrently([post_one(client, "/batch", t, parameters={"tag": "x"}) for t in texts])
    assert replies == [[f"{t}|x|8"] for t in texts]  # its own document, from a call of 8
    batches = batches_with(client, texts)
    assert [len(b) for b in batches] == [8, 8]
    assert sorted(itertools.chain(*batches)) == sorted(texts)


def test_only_requests_with_equal_parameters_share_a_call(recorder: Deployment) -> None:
    client = Client(host="127.0.0.1", port=recorder.port)
    texts = unique("p", 16)
    tags = ["a" if i % 2 else "b" for i in range(16)]
    replies = concurrently(
        [post_one(client, "/batch", t, parameters={"tag": tag}) for t, tag in zip(texts, tags, strict=True)]
    )
    assert replies == [[f"{t}|{tag}|8"] for t, tag in zip(texts, tags, strict=True)]
    tag_of = dict(zip(texts, tags, strict=True))
    for batch in batches_with(client, texts):
        assert len({tag_of[t] for t in batch}) == 1, batch


def test_an_error_in_a_batched_call_is_the_reply_of_every_request_in_it(recorder: Deployment) -> None:
    client = Client(host="127.0.0.1", port=recorder.port)
    texts = ["boom", *unique("e", 7)]
    replies = concurrently([post_one(client, "/batch", t) for t in texts])
    assert all(isinstance(r, ExecutorError) for r in replies), replies
    assert all("boom in the batch" in str(r) for r in replies)
    (batch,) = batches_with(client, texts[1:])
    assert sorted(batch) == sorted(texts)
    # The executor goes on batching.
    after = unique("a", 8)
    assert concurrently([post_one(client, "/batch", t) for t in after]) == [[f"{t}||8"] for t in after]


def test_a_request_whose_documents_do_not_fit_fails_alone(recorder: Deployment) -> None:
    client = Client(host="127.0.0.1", port=recorder.port)
    texts = unique("s", 4)

    def good(text: str) -> Callable[[], list[tuple[str, int]]]:
        def call() -> list[tuple[str, int]]:
            docs = client.post("/counted", CountedDoc(text=text, count=0), return_type=DocList[CountedDoc])
            return [(d.text, d.count) for d in docs]

        return call

    replies = concurrently([*(good(t) for t in texts), post_one(client, "/counted", "no count")])
    assert replies[:4] == [[(t, 4)] for t in texts]  # changed in place, in a call of 4
    assert isinstance(replies[4], DocumentSchemaError)
    assert "count" in str(replies[4])
    assert [sorted(batch) for batch in batches_with(client, texts)] == [sorted(texts)]


def test_a_batch_runs_after_its_timeout_without_reaching_its_preferred_size(recorder: Deployment) -> None:
    client = Client(host="127.0.0.1", port=recorder.port)
    texts = unique("q", 3)
    replies = concurrently([post_one(client, "/quick", t) for t in texts])
    batches = batches_with(client, texts)
    assert sorted(itertools.chain(*batches)) == sorted(texts)
    size_of = {t: len(b) for b in batches for t in b}
    assert replies == [[f"{t}||{size_of[t]}"] for t in texts]


def test_uses_dynamic_batching_batches_an_undecorated_endpoint(recorder: Deployment) -> None:
    client = Client(host="127.0.0.1", port=recorder.port)
    texts = unique("u", 8)
    replies = concurrently([post_one(client, "/configured", t) for t in texts])
    assert replies == [[f"{t}||4"] for t in texts]
    assert [len(b) for b in batches_with(client, texts)] == [4, 4]


def test_a_batched_method_must_return_one_document_per_input(recorder: Deployment) -> None:
    client = Client(host="127.0.0.1", port=recorder.port)
    replies = concurrently([post_one(client, "/shrink", t) for t in unique("k", 2)])
    assert all(isinstance(r, ExecutorError) and "one document per input" in str(r) for r in replies), replies


def request(endpoint: str, texts: Sequence[str], timeout_ms: int | None = None, **parameters: Any) -> bytes:
    spec = RequestSpec(endpoint, parameters or None, timeout_ms=timeout_ms)
    return build_request(spec, [TextDoc(text=t) for t in texts])[1]


def test_a_request_past_its_deadline_leaves_its_batch_unrun(recorder: Deployment) -> None:
    """Sent straight to the replica with no gRPC deadline: only the executor can answer it, from
    ``header.timeout``, and it does while its batch is still open."""
    client = Client(host="127.0.0.1", port=recorder.port)
    (late,) = unique("late", 1)

    async def send_late() -> None:
        pool = ReplicaPool(ExecutorNode("recorder", recorder.executor_addresses["recorder"]), MAX_MESSAGE)
        try:
            with pytest.raises(RequestTimeout):
                await pool.process(request("/batch", [late], timeout_ms=200), None)
        finally:
            await pool.close()

    asyncio.run(send_late())
    texts = unique("d", 8)
    assert concurrently([post_one(client, "/batch", t) for t in texts]) == [[f"{t}||8"] for t in texts]
    assert all(late not in batch for batch in batches_with(client, [*texts, late]))


def test_max_concurrency_runs_queued_requests_in_arrival_order_and_drops_those_past_their_deadline(
    gate: Deployment, tmp_path: Path
) -> None:
    client = Client(host="127.0.0.1", port=gate.port)
    started, release = tmp_path / "started", tmp_path / "release"
    with concurrent.futures.ThreadPoolExecutor(1) as background:
        parameters = {"started": str(started), "release": str(release)}
        holding = background.submit(lambda: client.post("/hold", parameters=parameters))
        for _ in range(3000):  # bounded: the hold call is on its way
            if started.exists() or holding.done():
                break
            concurrent.futures.wait([holding], timeout=0.01)
        assert started.exists(), holding.exception() if holding.done() else "the hold call never started"

        async def queue_behind_the_hold() -> None:
            pool = ReplicaPool(ExecutorNode("gate", gate.executor_addresses["gate"]), MAX_MESSAGE)
            streams = UpstreamStreams()
            try:
                # The first request goes unary (to an endpoint Gate lacks: passed through, no method runs),
                # once the channel is connected the rest go over one ProcessStream, written in this order.
                await forward(pool, request("/absent", ["w0"]), None, (), streams)
                expiring = asyncio.ensure_future(
                    forward(pool, request("/work", ["late"], timeout_ms=200), None, (), streams)
                )
                rest = [
                    asyncio.ensure_future(forward(pool, request("/work", [f"w{i}"], pause=0.01), None, (), streams))
                    for i in range(1, 6)
                ]
                with pytest.raises(RequestTimeout, match="deadline"):
                    await expiring  # answered by the executor while the hold still runs
                assert not holding.done()
                release.touch()
                await asyncio.gather(*rest)
                assert streams.opened == 1
            finally:
                streams.cancel()
                await pool.close()

        asyncio.run(queue_behind_the_hold())
        holding.result()
    (response,) = client.post("/log", return_responses=True)
    report = response.parameters["__results__"]["gate/rep-0"]
    log = report["log"]
    assert "start late" not in log
    stream_order = [entry for entry in log if entry.split()[-1] in {f"w{i}" for i in range(1, 6)}]
    assert stream_order == [f"{what} w{i}" for i in range(1, 6) for what in ("start", "end")]
    assert report["most_active"] == 1


def test_max_concurrency_bounds_async_methods(tmp_path: Path) -> None:
    with Deployment(uses=Gate, name="gate", host="127.0.0.1", max_concurrency=2) as deployment:
        client = Client(host="127.0.0.1", port=deployment.port)
        texts = unique("m", 8)
        concurrently([post_one(client, "/work", t, parameters={"pause": 0.05}) for t in texts])
        (response,) = client.post("/log", return_responses=True)
    assert response.parameters["__results__"]["gate/rep-0"]["most_active"] == 2
