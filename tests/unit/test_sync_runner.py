"""The executor's sync-method thread: order, results, errors, cancellation and shutdown."""

from __future__ import annotations

import asyncio
import functools
import threading
import time

import pytest

from docwire.executor.sync_runner import SyncRunner


@pytest.fixture
def runner() -> SyncRunner:
    return SyncRunner("test-runner")


async def test_calls_run_in_order_on_one_thread_off_the_loop(runner: SyncRunner) -> None:
    seen: list[tuple[int, str]] = []

    def call(i: int) -> int:
        seen.append((i, threading.current_thread().name))
        return i * 2

    results = await asyncio.gather(*(runner.run(functools.partial(call, i)) for i in range(20)))
    runner.shutdown()
    assert results == [i * 2 for i in range(20)]
    assert [i for i, _ in seen] == list(range(20))
    assert {name for _, name in seen} == {"test-runner"}


async def test_exceptions_reach_the_caller_and_the_thread_goes_on(runner: SyncRunner) -> None:
    def fail() -> None:
        raise ValueError("broken")

    def leave() -> None:
        raise SystemExit(3)

    with pytest.raises(ValueError, match="broken"):
        await runner.run(fail)
    with pytest.raises(SystemExit):
        await runner.run(leave)
    assert await runner.run(lambda: "still here") == "still here"
    runner.shutdown()


async def test_a_cancelled_caller_does_not_stop_the_running_call(runner: SyncRunner) -> None:
    started, finished = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.05)
        finished.set()

    task = asyncio.ensure_future(runner.run(slow))
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await runner.run(lambda: finished.is_set())
    runner.shutdown()


async def test_shutdown_finishes_queued_calls_then_refuses_new_ones(runner: SyncRunner) -> None:
    done: list[int] = []
    pending = [asyncio.ensure_future(runner.run(functools.partial(done.append, i))) for i in range(5)]
    await asyncio.sleep(0)  # let every call reach the queue
    await asyncio.to_thread(runner.shutdown)
    await asyncio.gather(*pending)
    assert done == list(range(5))
    with pytest.raises(RuntimeError, match="shut down"):
        await runner.run(lambda: None)
