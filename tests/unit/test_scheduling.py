"""The worker's scheduling, without processes: the concurrency limit, batching policies and their config."""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docarray import BaseDoc, DocList

from docwire import Executor, Flow, dynamic_batching, requests
from docwire.executor.batching import BatchingPolicy, batching_of, batching_policies
from docwire.executor.dispatch import Outcome, Parameters
from docwire.executor.sync_runner import SyncRunner
from docwire.orchestration.config import ExecutorConfig, load_flow_yaml
from docwire.runtime.batching import EndpointBatcher, MethodFailed
from docwire.runtime.concurrency import ConcurrencyLimit
from docwire.runtime.invocation import EndpointCaller
from docwire_contract.errors import RequestTimeout


async def settle() -> None:
    """Lets every ready task run until it blocks (a few loop turns are plenty; bounded)."""
    for _ in range(20):
        await asyncio.sleep(0)


class Text(BaseDoc):
    text: str = ""


async def test_waiters_get_their_turn_in_arrival_order_and_the_bound_holds() -> None:
    limit = ConcurrencyLimit(2)
    order: list[int] = []
    active, most = 0, 0
    gate = asyncio.Event()

    async def call(i: int) -> None:
        nonlocal active, most
        async with limit.slot(None):
            active += 1
            most = max(most, active)
            order.append(i)
            await gate.wait()
            active -= 1

    tasks = [asyncio.create_task(call(i)) for i in range(10)]
    await settle()
    assert limit.waiting == 8
    assert (limit.held, order) == (2, [0, 1])
    gate.set()
    await asyncio.gather(*tasks)
    assert order == list(range(10))
    assert (most, limit.held, limit.waiting) == (2, 0, 0)


async def test_a_waiter_past_its_deadline_leaves_the_line_without_running() -> None:
    limit = ConcurrencyLimit(1)
    ran: list[str] = []
    async with limit.slot(None):
        with pytest.raises(RequestTimeout, match="deadline"):
            async with limit.slot(time.monotonic() + 0.01):
                ran.append("late")
        assert limit.waiting == 0
    async with limit.slot(time.monotonic() + 60):
        ran.append("next")
    assert ran == ["next"]
    with pytest.raises(RequestTimeout):
        async with limit.slot(time.monotonic() - 1):  # already past: not even queued
            ran.append("past")
    assert limit.held == 0


async def test_a_cancelled_waiter_leaves_the_line() -> None:
    limit = ConcurrencyLimit(1)
    async with limit.slot(None):

        async def wait() -> None:
            async with limit.slot(None):
                pass

        task = asyncio.create_task(wait())
        await settle()
        assert limit.waiting == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert limit.waiting == 0
    assert limit.held == 0


def test_no_limit_and_a_bad_limit() -> None:
    assert ConcurrencyLimit(None).waiting == 0
    with pytest.raises(ValueError, match="at least 1"):
        ConcurrencyLimit(0)


class Batched(Executor):
    @requests(on="/a")
    @dynamic_batching(preferred_batch_size=4, timeout=5)
    def a(self, docs: DocList[Text], **kwargs: Any) -> None: ...

    @requests(on="/b")
    def b(self, docs: DocList[Text], **kwargs: Any) -> None: ...

    @requests(on="/stream")
    def stream(self, doc: Text, **kwargs: Any) -> Any:
        yield doc


def test_policies_come_from_the_decorator_and_uses_dynamic_batching_wins() -> None:
    assert batching_of(Batched.a) == BatchingPolicy(preferred_batch_size=4, timeout=5)
    caller = EndpointCaller(Batched(), SyncRunner(), dynamic_batching={"b": {"preferred_batch_size": 2}})
    assert caller.policies == {
        "/a": BatchingPolicy(preferred_batch_size=4, timeout=5),
        "/b": BatchingPolicy(preferred_batch_size=2),
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"/nope": {"preferred_batch_size": 2}}, r"endpoint '/nope', which is not served; endpoints: /a, /b"),
        ({"/stream": {"preferred_batch_size": 2}}, "streaming .* /stream"),
        ({"/b": {"timeout": 2}}, "needs preferred_batch_size"),
        ({"/b": {"preferred_batch_size": 2, "flush_all": True}}, r"unknown keys \['flush_all'\]"),
        ({"/b": {"preferred_batch_size": 0}}, "at least 1"),
        ({"/b": {"preferred_batch_size": 8, "max_batch_size": 4}}, "max_batch_size"),
    ],
)
def test_bad_policies_are_named(overrides: dict[str, Any], message: str) -> None:
    methods: dict[str, Callable[..., Any]] = {"/a": Batched.a, "/b": Batched.b, "/stream": Batched.stream}
    with pytest.raises(ValueError, match=message):
        batching_policies(methods, frozenset({"/stream"}), overrides)


async def test_max_batch_size_runs_a_batch_before_it_would_grow_past_it() -> None:
    calls: list[list[str]] = []

    async def call(docs: DocList[Any], parameters: Parameters, metadata: dict[str, str]) -> Outcome:
        calls.append([d.text for d in docs])
        return Outcome(docs)

    policy = BatchingPolicy(preferred_batch_size=4, timeout=60_000, max_batch_size=4)
    batcher = EndpointBatcher(policy, call, ConcurrencyLimit(None), Text, Text)

    def docs(*texts: str) -> DocList[Text]:
        return DocList[Text]([Text(text=t) for t in texts])

    key = ("{}", ())
    first = asyncio.create_task(batcher.submit(docs("a", "b", "c"), key, {}, {}, None))
    await asyncio.sleep(0)
    second = asyncio.create_task(batcher.submit(docs("d", "e"), key, {}, {}, None))  # 5 > 4: the first runs
    await asyncio.sleep(0)
    third = asyncio.create_task(batcher.submit(docs("f", "g"), key, {}, {}, None))  # 4: runs
    outcomes = await asyncio.gather(first, second, third)
    assert calls == [["a", "b", "c"], ["d", "e", "f", "g"]]
    assert [[d.text for d in o.docs] for o in outcomes] == [["a", "b", "c"], ["d", "e"], ["f", "g"]]
    await batcher.close()


async def test_a_failing_call_fails_every_request_of_its_batch() -> None:
    async def call(docs: DocList[Any], parameters: Parameters, metadata: dict[str, str]) -> Outcome:
        raise KeyError("model")

    batcher = EndpointBatcher(BatchingPolicy(preferred_batch_size=2), call, ConcurrencyLimit(None), Text, Text)
    results = await asyncio.gather(
        *(batcher.submit(DocList[Text]([Text()]), ("{}", ()), {}, {}, None) for _ in range(2)),
        return_exceptions=True,
    )
    assert all(isinstance(r, MethodFailed) and isinstance(r.cause, KeyError) for r in results)


def test_flow_add_and_yaml_take_max_concurrency_and_uses_dynamic_batching(tmp_path: Path) -> None:
    flow = Flow().add(
        uses="X", name="x", max_concurrency=2, uses_dynamic_batching={"/a": {"preferred_batch_size": 8, "timeout": 10}}
    )
    (added,) = flow.executors
    path = tmp_path / "flow.yml"
    path.write_text(
        textwrap.dedent("""\
            executors:
              - name: x
                uses: X
                max_concurrency: 2
                uses_dynamic_batching:
                  /a: {preferred_batch_size: 8, timeout: 10}
        """)
    )
    _, (read,) = load_flow_yaml(path)
    assert (read.max_concurrency, dict(read.uses_dynamic_batching)) == (
        2,
        {"/a": {"preferred_batch_size": 8, "timeout": 10}},
    )
    assert (added.max_concurrency, dict(added.uses_dynamic_batching)) == (
        read.max_concurrency,
        read.uses_dynamic_batching,
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_concurrency": 0}, "executor 'x': max_concurrency must be a whole number of at least 1, not 0"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"uses_dynamic_batching": ["/a"]}, "must map endpoints to policies, not list"),
        ({"uses_dynamic_batching": {"/a": {"timeout": 1}}}, r"executor 'x': uses_dynamic_batching\['/a'\] needs"),
    ],
)
def test_bad_scheduling_settings_are_refused_before_anything_starts(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExecutorConfig(name="x", **settings)
