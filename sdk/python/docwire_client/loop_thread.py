"""The event loop every sync ``Client`` of a process shares, running in a daemon thread.

Starting a loop (and a channel) per call would cost more CPU than the round trip itself,
and gRPC channels cannot move between event loops or threads (grpc/grpc#25364): handing
every thread's calls to one loop is what makes a sync Client safe to share between
threads. A process forked from one that used it starts its own loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Coroutine, Generator
from typing import Any, ClassVar, Generic, TypeVar

__all__ = ["LoopThread"]

R = TypeVar("R")

#: How often a caller waiting on the loop checks that the loop's thread is still alive.
_LIVENESS_CHECK_S = 1.0


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # noqa: PLC0415  (optional speed-up)
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _next(agen: AsyncIterator[R]) -> R:
    return await anext(agen)


async def _close(agen: AsyncIterator[Any]) -> None:
    await agen.aclose()  # type: ignore[attr-defined]


class _Call(Generic[R]):
    """One coroutine handed to the loop's thread, its caller blocked on a lock that the task's end releases.

    What ``asyncio.run_coroutine_threadsafe`` and ``Future.result`` do, with less on the way (no
    ``concurrent.futures.Future``, its condition variable and the callbacks chaining it to the
    task): 38 µs instead of 84 µs per round trip, on the path of every sync ``Client`` call.
    """

    __slots__ = ("_coro", "_done", "_task")

    def __init__(self, coro: Coroutine[Any, Any, R]) -> None:
        self._coro = coro
        self._done = threading.Lock()
        self._done.acquire()  # released by the task's end
        self._task: asyncio.Task[R] | None = None

    def start(self) -> None:
        """On the loop: runs the coroutine as a task."""
        self._task = asyncio.ensure_future(self._coro)
        self._task.add_done_callback(self._finished)

    def _finished(self, _: asyncio.Task[R]) -> None:
        self._done.release()

    def cancel(self) -> None:
        """On the loop (after ``start``: callbacks run in order): cancels the task."""
        if self._task is not None:
            self._task.cancel()

    def wait(self, thread: threading.Thread) -> None:
        """Blocks until the task has ended, checking every second that the loop's ``thread`` is alive.

        Raises:
            RuntimeError: the loop's thread has stopped.
        """
        while not self._done.acquire(timeout=_LIVENESS_CHECK_S):
            if not thread.is_alive():
                raise RuntimeError("the client's event loop thread has stopped")

    def result(self) -> R:
        """What the task returned (or raises what it raised); only after ``wait``."""
        assert self._task is not None
        return self._task.result()


class LoopThread:
    """An event loop running forever in a daemon thread: one per process, shared by its sync Clients."""

    _shared: ClassVar[LoopThread | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = _new_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="docwire-client", daemon=True)
        self._thread.start()

    @classmethod
    def shared(cls) -> LoopThread:
        """This process' loop thread, started on first use (again in a forked child, whose threads are gone)."""
        with cls._lock:
            current = cls._shared
            if current is None or current.pid != os.getpid() or not current._thread.is_alive():
                current = cls._shared = cls()
            return current

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        """Runs ``coro`` on the loop and waits for its result, from any thread but the loop's own."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "a sync Client cannot be called from a callback (callbacks run on the clients' event loop); "
                "use an AsyncClient there, or collect what you need and call the client afterwards"
            )
        call = _Call(coro)
        try:
            self.loop.call_soon_threadsafe(call.start)
        except RuntimeError:  # the loop is closed
            coro.close()
            raise
        try:
            call.wait(self._thread)
        except BaseException:  # KeyboardInterrupt, or the loop's thread is gone: stop the call
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(call.cancel)
            raise
        return call.result()

    def iterate(self, agen: AsyncIterator[R]) -> Generator[R, None, None]:
        """Iterates an async iterator on the loop, item by item, from the calling thread."""
        try:
            while True:
                try:
                    yield self.run(_next(agen))
                except StopAsyncIteration:
                    return
        finally:
            self.run(_close(agen))

    def submit(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Starts ``coro`` on the loop without waiting (best effort: for finalizers)."""
        try:
            if self.loop.is_closed() or not self._thread.is_alive():
                raise RuntimeError("the loop is gone")
            asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:
            coro.close()
