"""The sync Clients' loop: run by the calling thread when free, else handed to its daemon thread; a coroutine's
result or error back to the caller either way."""

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


def test_a_caller_inside_an_event_loop_of_its_own_is_served_by_the_daemon_thread() -> None:
    runner = LoopThread.shared()

    async def notebook_cell() -> int:  # a sync call made where a loop already runs (Jupyter)
        return runner.run(_double(4))

    assert asyncio.run(notebook_cell()) == 8


def _idle_loop() -> LoopThread:
    """A loop of this test's own: the shared one may still be finishing what an earlier test's client left
    (a channel closing), and then its daemon thread, not the caller, runs it."""
    return LoopThread()


def test_the_caller_runs_the_loop_itself_when_no_thread_does() -> None:
    runner = _idle_loop()

    async def where() -> threading.Thread:
        return threading.current_thread()

    assert runner.run(where()) is threading.current_thread()


def test_tasks_a_call_leaves_running_go_on_in_the_daemon_thread() -> None:
    runner = _idle_loop()
    went_on = threading.Event()
    release = asyncio.Event()

    async def reader() -> None:  # what a WebSocket's reader is: it outlives the call that opened it
        await release.wait()
        went_on.set()

    async def open_and_return() -> None:
        asyncio.get_running_loop().create_task(reader())

    runner.run(open_and_return())
    runner.submit(_set(release))  # from outside the loop, as a finalizer would
    assert went_on.wait(timeout=10)
    assert runner.run(_double(3)) == 6


async def _set(event: asyncio.Event) -> None:
    event.set()


def test_a_call_interrupted_while_its_caller_runs_the_loop_is_cancelled() -> None:
    runner = _idle_loop()
    cancelled = threading.Event()

    def interrupt() -> None:
        raise KeyboardInterrupt  # what Ctrl-C raises in the thread running the loop

    async def forever() -> None:
        asyncio.get_running_loop().call_soon(interrupt)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(KeyboardInterrupt):
        runner.run(forever())
    assert cancelled.is_set()
    assert runner.run(_double(5)) == 10  # the loop serves on


def test_a_handed_over_call_interrupted_in_its_caller_is_cancelled_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
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

    async def caller_in_a_loop() -> None:  # a running loop of its own: the call is handed over
        runner.run(forever())

    monkeypatch.setattr(loop_thread._Call, "wait", interrupted_wait)
    with pytest.raises(Interrupted):
        asyncio.run(caller_in_a_loop())
    assert cancelled.wait(timeout=10)
