"""How many calls of one replica's endpoint methods run at once (``max_concurrency``), and deadlines.

A ``ConcurrencyLimit`` is a semaphore that keeps its waiters in arrival order and hands a freed
slot straight to the oldest one (no late arrival overtakes a waiting request). A waiter whose
deadline passes leaves the queue with ``RequestTimeout``, never having run.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator

from docwire_contract.errors import RequestTimeout

__all__ = ["ConcurrencyLimit", "Deadline", "check_deadline", "deadline_after"]

#: A request's deadline on ``time.monotonic()``'s clock; None when it has none.
Deadline = float | None


def deadline_after(seconds: float | None) -> Deadline:
    """The deadline ``seconds`` from now (None stays None)."""
    return None if seconds is None else time.monotonic() + seconds


def check_deadline(deadline: Deadline, what: str) -> None:
    """Raises ``RequestTimeout`` when ``deadline`` has passed.

    Raises:
        RequestTimeout: the deadline has passed; the message says ``what`` was not done.
    """
    if deadline is not None and time.monotonic() >= deadline:
        raise RequestTimeout(f"the request's deadline passed before {what}")


class ConcurrencyLimit:
    """At most ``limit`` holders at once (None: no limit); waiters served first come, first served.

    Args:
        limit: the most slots held at once, or None for no bound.
    """

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {limit}")
        self._limit = limit
        self._held = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def held(self) -> int:
        """Slots held now."""
        return self._held

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot."""
        return len(self._waiters)

    @contextlib.asynccontextmanager
    async def slot(self, deadline: Deadline, what: str = "it ran") -> AsyncIterator[None]:
        """Holds a slot for the body; waits in line for one first.

        Raises:
            RequestTimeout: the deadline passed before a slot was free (the body never ran).
        """
        await self._acquire(deadline, what)
        try:
            check_deadline(deadline, what)  # handed a slot just as the deadline came
            yield
        finally:
            self._release()

    async def _acquire(self, deadline: Deadline, what: str) -> None:
        check_deadline(deadline, what)
        if self._limit is None or (self._held < self._limit and not self._waiters):
            self._held += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        try:
            await asyncio.wait_for(asyncio.shield(turn), timeout)
        except TimeoutError:
            if turn.done() and not turn.cancelled():  # handed a slot just as the deadline came: give it on
                self._release()
            else:
                turn.cancel()
                self._waiters.remove(turn)
            raise RequestTimeout(f"the request's deadline passed while it waited its turn, before {what}") from None
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()
            else:
                turn.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(turn)
            raise

    def _release(self) -> None:
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot passes to it: ``held`` stays as it is
                return
        self._held -= 1
