"""How every transport sends many requests: pulling them, bounding them by slots, running them at once.

The transports differ in how one request travels (a gRPC call, an HTTP call, a socket
frame); the flow control around it is the same and lives here once:

- ``RequestSource``: the inputs, pulled one at a time, surviving a failed stream;
- ``send_requests``: a stream's writer (re-sent requests first, then new ones, each after a slot);
- ``concurrent_calls``: one call per request, as many at once as the slots allow, replies as they finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

from docwire_client.inputs import Outgoing
from docwire_contract.errors import DocwireError

__all__ = ["SETTLE_SECONDS", "RequestSource", "concurrent_calls", "send_requests"]

R = TypeVar("R")

#: How long stopped ``concurrent_calls`` wait for the calls under way before cancelling them.
SETTLE_SECONDS = 5.0


class RequestSource:
    """The requests still to send, pulled one at a time.

    A pull that a failed stream interrupts is kept for the next stream: cancelling
    it would end the user's input generator and lose the rest of the inputs. So a pull
    runs in a task of its own, awaited shielded.

    With ``never_waits`` (inputs that are documents, a list or a sync iterable: see
    ``inputs.never_waits``), a pull starts in the caller's task instead and, as it does not
    wait, ends there: a task and a shield for each pull cost a 100-document stream ~45 µs
    of client CPU and two turns of the event loop per request. Should such a pull wait after
    all, the rest of it goes on in a task of its own, as any pull does. (Async inputs never
    start in the caller's task: code of theirs that reads ``asyncio.current_task()``, such
    as ``asyncio.timeout``, must see the task that goes on with them.)
    """

    def __init__(self, requests: AsyncGenerator[Outgoing, None], *, never_waits: bool = False) -> None:
        self._requests = requests
        self._never_waits = never_waits
        self._pull: asyncio.Future[Outgoing | None] | None = None

    async def next(self) -> Outgoing | None:
        if self._pull is None and self._never_waits:
            step = anext(self._requests, None).__await__()
            try:
                waiting_on = step.send(None)
            except StopIteration as done:
                item: Outgoing | None = done.value
                return item
            self._pull = asyncio.ensure_future(_Rest(step, waiting_on))  # the rest, in a task of its own
        elif self._pull is None:
            self._pull = asyncio.ensure_future(anext(self._requests, None))
        item = await asyncio.shield(self._pull)
        self._pull = None
        return item

    async def aclose(self) -> None:
        """Stops a pull under way, then closes the inputs."""
        if self._pull is not None:
            self._pull.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pull
        await self._requests.aclose()


class _Rest(Generic[R]):
    """An awaitable that goes on with an awaitable's ``step`` from where its first ``send`` stopped."""

    __slots__ = ("_step", "_waiting_on")

    def __init__(self, step: Generator[Any, Any, R], waiting_on: Any) -> None:
        self._step = step
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, R]:
        step, waiting_on = self._step, self._waiting_on
        while True:
            try:
                sent = yield waiting_on  # what the step waits on goes to the running task, as ``await`` does
            except BaseException as exc:  # noqa: BLE001  (a cancellation: passed to the step, as ``await`` does)
                try:
                    waiting_on = step.throw(exc)
                except StopIteration as done:
                    result: R = done.value
                    return result
                continue
            try:
                waiting_on = step.send(sent)
            except StopIteration as done:
                result = done.value
                return result


async def send_requests(
    write: Callable[[bytes], Awaitable[object]],
    resend: list[Outgoing],
    source: RequestSource,
    unanswered: dict[str, Outgoing],
    slots: asyncio.Semaphore,
) -> None:
    """Writes the requests to re-send (they hold their slots), then new ones, each after taking a slot and
    noting it in ``unanswered``; returns when the inputs end (the caller then ends the stream)."""
    for item in resend:
        await write(item.raw)
    while True:
        await slots.acquire()
        try:
            item_or_end = await source.next()
        except BaseException:
            slots.release()
            raise
        if item_or_end is None:
            slots.release()
            return
        unanswered[item_or_end.request_id] = item_or_end
        await write(item_or_end.raw)


async def concurrent_calls(
    call: Callable[[bytes], Awaitable[R]], source: RequestSource, slots: asyncio.Semaphore
) -> AsyncGenerator[tuple[Outgoing, R], None]:
    """Each request as its own ``call``, as many at once as ``slots`` allows; replies as they finish.

    A slot is taken before each request is pulled; the caller releases it when it is
    done with the reply. When the caller stops early (an error, or it stopped reading),
    the calls under way get ``SETTLE_SECONDS`` to end on their own before the rest are
    cancelled: cancelling an HTTP call in the middle of connecting can leave its socket
    open, and calls that are only waiting to fail (the server is gone) end quickly anyway.
    """
    finished: asyncio.Queue[tuple[Outgoing, R] | BaseException | None] = asyncio.Queue()
    calls: set[asyncio.Task[None]] = set()

    async def one(item: Outgoing) -> None:
        try:
            finished.put_nowait((item, await call(item.raw)))
        except DocwireError as exc:
            finished.put_nowait(exc)

    async def feed() -> None:
        failed: Exception | None = None
        try:
            while True:
                await slots.acquire()
                item = await source.next()
                if item is None:
                    slots.release()
                    break
                task = asyncio.create_task(one(item))
                calls.add(task)
                task.add_done_callback(calls.discard)
        except Exception as exc:  # noqa: BLE001 - the inputs (user code) failed: raised once the calls under way are in
            failed = exc
        while calls:
            await asyncio.wait(set(calls))
        finished.put_nowait(failed)  # None: every reply is in

    feeder = asyncio.create_task(feed())
    try:
        while (got := await finished.get()) is not None:
            if isinstance(got, BaseException):
                raise got
            yield got
    finally:
        feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
        if calls:
            _, pending = await asyncio.wait(set(calls), timeout=SETTLE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await source.aclose()
