"""The sync Client's loop thread: a coroutine's result or error handed back to the calling thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from docwire_client import loop_thread
from docwire_client.loop_thread import LoopThread


async def _double(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


async def _fail() -> None:
    await asyncio.sleep(0)
    raise ValueError("from the loop")


def test_results_and_errors_reach_the_caller() -> None:
    runner = LoopThread.shared()
    assert runner.run(_double(21)) == 42
    with pytest.raises(ValueError, match="from the loop"):
        runner.run(_fail())


def test_many_threads_share_the_loop() -> None:
    runner = LoopThread.shared()
    results: dict[int, int] = {}

    def call(value: int) -> None:
        for _ in range(50):
            results[value] = runner.run(_double(value))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == {i: i * 2 for i in range(8)}


def test_the_loops_own_thread_is_refused() -> None:
    runner = LoopThread.shared()

    async def nested() -> None:
        runner.run(_double(1))

    with pytest.raises(RuntimeError, match="cannot be called from a callback"):
        runner.run(nested())


def test_a_call_interrupted_in_its_caller_is_cancelled_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = LoopThread.shared()
    started, cancelled = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    class Interrupted(BaseException):
        """What a KeyboardInterrupt in the waiting thread would be."""

    def interrupted_wait(self: object, thread: threading.Thread) -> None:
        assert started.wait(timeout=10)
        raise Interrupted

    monkeypatch.setattr(loop_thread._Call, "wait", interrupted_wait)
    with pytest.raises(Interrupted):
        runner.run(forever())
    assert cancelled.wait(timeout=10)
