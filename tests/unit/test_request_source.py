"""``RequestSource``: pulls of inputs that never wait finish in the caller's task; other pulls run in tasks of their
own; a pull that waits survives the caller's cancellation (a failed stream) and hands its request to the next pull;
the inputs' errors reach the caller. ``never_waits`` tells the inputs whose pulls may start in the caller's task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from docwire_client.inputs import Outgoing, never_waits
from docwire_client.sending import RequestSource


def _request(position: int) -> Outgoing:
    return Outgoing(f"id-{position}", b"raw", 1, position)


async def _ready(count: int) -> AsyncGenerator[Outgoing, None]:
    for position in range(count):
        yield _request(position)


async def _waiting(count: int, gate: asyncio.Event, ended: list[str]) -> AsyncGenerator[Outgoing, None]:
    try:
        for position in range(count):
            await gate.wait()
            yield _request(position)
    finally:
        ended.append("closed")


async def _failing(after: int, wait: bool) -> AsyncGenerator[Outgoing, None]:
    for position in range(after):
        yield _request(position)
    if wait:
        await asyncio.sleep(0)
    raise ValueError("the inputs broke")


def test_pulls_that_do_not_wait_start_no_task() -> None:
    async def scenario() -> list[str]:
        started: list[object] = []

        def counting_factory(loop: asyncio.AbstractEventLoop, coro: Any) -> asyncio.Task[Any]:
            started.append(coro)
            return asyncio.Task(coro, loop=loop)

        asyncio.get_running_loop().set_task_factory(counting_factory)
        source = RequestSource(_ready(3), never_waits=True)
        pulled = [item.request_id for item in [await source.next() for _ in range(3)] if item is not None]
        assert started == []
        assert await source.next() is None
        await source.aclose()
        return pulled

    assert asyncio.run(scenario()) == ["id-0", "id-1", "id-2"]


@pytest.mark.parametrize("eager", [False, True], ids=["own task", "started in the caller's task"])
def test_a_waiting_pull_outlives_its_cancelled_caller_and_feeds_the_next_one(eager: bool) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        gate = asyncio.Event()
        ended: list[str] = []
        source = RequestSource(_waiting(2, gate, ended), never_waits=eager)
        first = asyncio.create_task(source.next())
        await asyncio.sleep(0.01)
        first.cancel()  # a stream failed while its writer waited for the inputs
        with pytest.raises(asyncio.CancelledError):
            await first
        assert ended == []  # the input generator was not ended by the cancellation
        gate.set()
        pulled = []
        while (item := await source.next()) is not None:
            pulled.append(item.request_id)
        await source.aclose()
        return pulled, ended

    pulled, ended = asyncio.run(scenario())
    assert pulled == ["id-0", "id-1"]  # nothing lost, nothing repeated
    assert ended == ["closed"]


@pytest.mark.parametrize("eager", [False, True], ids=["own task", "started in the caller's task"])
@pytest.mark.parametrize("wait", [False, True], ids=["at once", "after waiting"])
def test_the_inputs_errors_reach_the_caller(wait: bool, eager: bool) -> None:
    async def scenario() -> None:
        source = RequestSource(_failing(1, wait), never_waits=eager)
        assert await source.next() is not None
        with pytest.raises(ValueError, match="the inputs broke"):
            await source.next()
        await source.aclose()

    asyncio.run(scenario())


def test_closing_stops_a_waiting_pull() -> None:
    async def scenario() -> list[str]:
        gate = asyncio.Event()
        ended: list[str] = []
        source = RequestSource(_waiting(1, gate, ended))
        caller = asyncio.create_task(source.next())
        await asyncio.sleep(0.01)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        await source.aclose()
        return ended

    assert asyncio.run(scenario()) == ["closed"]


def test_async_inputs_are_pulled_in_a_task_of_their_own() -> None:
    """Code of the inputs' that reads the current task (``asyncio.timeout``) sees the task that runs them."""

    async def timed(seen: list[asyncio.Task[Any] | None]) -> AsyncGenerator[Outgoing, None]:
        async with asyncio.timeout(5):
            seen.append(asyncio.current_task())
            await asyncio.sleep(0)
        yield _request(0)

    async def scenario() -> bool:
        seen: list[asyncio.Task[Any] | None] = []
        source = RequestSource(timed(seen))
        assert await source.next() is not None
        await source.aclose()
        return seen == [asyncio.current_task()]

    assert asyncio.run(scenario()) is False


class _Docs:
    def __iter__(self) -> Any:
        return iter(())


async def _async_docs() -> AsyncGenerator[Any, None]:
    yield None


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (None, True),
        ([], True),
        ((), True),
        (_Docs(), True),
        (iter([]), True),
        (_async_docs(), False),
        (lambda: [], False),
    ],
    ids=["none", "list", "tuple", "iterable", "iterator", "async generator", "function"],
)
def test_never_waits_tells_sync_inputs_from_the_others(inputs: Any, expected: bool) -> None:
    assert never_waits(inputs) is expected
