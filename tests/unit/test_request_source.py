"""``RequestSource``: a pull that does not wait finishes in the caller's task; one that waits survives the caller's
cancellation (a failed stream) and hands its request to the next pull; the inputs' errors reach the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from docwire_client.inputs import Outgoing
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
        source = RequestSource(_ready(3))
        pulled = [item.request_id for item in [await source.next() for _ in range(3)] if item is not None]
        assert started == []
        assert await source.next() is None
        await source.aclose()
        return pulled

    assert asyncio.run(scenario()) == ["id-0", "id-1", "id-2"]


def test_a_waiting_pull_outlives_its_cancelled_caller_and_feeds_the_next_one() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        gate = asyncio.Event()
        ended: list[str] = []
        source = RequestSource(_waiting(2, gate, ended))
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


@pytest.mark.parametrize("wait", [False, True], ids=["at once", "after waiting"])
def test_the_inputs_errors_reach_the_caller(wait: bool) -> None:
    async def scenario() -> None:
        source = RequestSource(_failing(1, wait))
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
