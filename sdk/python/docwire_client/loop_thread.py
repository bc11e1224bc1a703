"""The event loop every sync ``Client`` of a process shares: run by the calling thread when no other runs it.

Starting a loop (and a channel) per call would cost more CPU than the round trip itself,
and gRPC channels cannot move between event loops (grpc/grpc#25364): every sync Client of
a process uses one loop, which makes a sync Client safe to share between threads.

A loop may run in one thread at a time, and in different threads one after the other. A
call made while no thread runs the loop runs it in the caller's own thread until the call
is done, instead of handing it to another thread and waiting to be woken. Whatever is still
running on the loop then (a WebSocket's reader and keep-alive, calls other threads handed
over) goes on in the process' ``docwire-client`` daemon thread (started the first time it is
needed), which runs the loop until no
task is left; while it does, calls are handed to it, as are the calls of a caller inside an
event loop of its own (Jupyter). A gRPC or HTTP call leaves nothing behind, so a sync Client
over those runs every call in its caller's thread. Callbacks run in whichever thread runs
the loop. A process forked from one that used it starts its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
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
    task): 38 µs instead of 84 µs per round trip.
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
    """An event loop, and the daemon thread that runs it for what callers leave or hand to it: one per process,
    shared by its sync Clients (see the module docstring)."""

    _shared: ClassVar[LoopThread | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = _new_loop()
        self._running = threading.Lock()  # held by the thread that runs the loop
        self._wanted = threading.Event()  # tasks are left on the loop, or calls handed to it: the daemon runs it
        # Started on first need (``_want``): a process whose calls leave nothing on the loop runs no thread of
        # ours, so a Flow it enters later may still start its replicas as forks of it (a third of the time).
        self._thread = threading.Thread(target=self._serve, name="docwire-client", daemon=True)
        self._starting = threading.Lock()

    @classmethod
    def shared(cls) -> LoopThread:
        """This process' loop, made on first use (again in a forked child, whose threads are gone)."""
        with cls._lock:
            current = cls._shared
            if current is None or current.pid != os.getpid() or current._thread_gone():
                current = cls._shared = cls()
            return current

    def _thread_gone(self) -> bool:
        """Whether the daemon thread was started and has stopped."""
        return self._thread.ident is not None and not self._thread.is_alive()

    def _want(self) -> None:
        """Has the daemon thread run the loop (starting the thread if it never ran)."""
        if self._thread.ident is None:
            with self._starting:
                if self._thread.ident is None:
                    self._thread.start()
        self._wanted.set()

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        """Runs ``coro`` on the loop and returns its result (or raises its error), from any thread not running it."""
        running = asyncio._get_running_loop()
        if running is self.loop:
            coro.close()
            raise RuntimeError(
                "a sync Client cannot be called from a callback (callbacks run on the clients' event loop); "
                "use an AsyncClient there, or collect what you need and call the client afterwards"
            )
        if running is None and self._running.acquire(blocking=False):
            try:
                return self._run_here(coro)
            finally:
                self._running.release()
        call = _Call(coro)
        try:
            self.loop.call_soon_threadsafe(call.start)
        except RuntimeError:  # the loop is closed
            coro.close()
            raise
        self._want()
        try:
            call.wait(self._thread)
        except BaseException:  # KeyboardInterrupt, or the loop's thread is gone: stop the call
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(call.cancel)
            raise
        return call.result()

    def _run_here(self, coro: Coroutine[Any, Any, R]) -> R:
        """Runs the loop in this thread until ``coro`` is done (this thread holds ``_running``)."""
        task = self.loop.create_task(coro)
        try:
            return self.loop.run_until_complete(task)
        except BaseException:
            if not task.done():  # interrupted here (KeyboardInterrupt): the call ends, cancelled, on the loop
                task.cancel()
                with contextlib.suppress(BaseException):
                    self.loop.run_until_complete(task)
            raise
        finally:
            if asyncio.all_tasks(self.loop):  # left running: the daemon thread goes on with them
                self._want()

    async def _until_idle(self) -> None:
        """Returns once no other task is left on the loop (calls handed over were started before its first step)."""
        this = asyncio.current_task()
        while others := asyncio.all_tasks() - {this}:
            await asyncio.wait(others)

    def _serve(self) -> None:
        """The daemon thread: whenever tasks are left or calls handed over, runs the loop until none is left."""
        while True:
            self._wanted.wait()
            self._wanted.clear()
            with self._running:
                if self.loop.is_closed():
                    return
                self.loop.run_until_complete(self._until_idle())

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
        """Starts ``coro`` on the loop without waiting (best effort: for finalizers).

        Dropped at interpreter exit when the loop's thread never ran: no thread can start then (``start``
        would wait forever), and the process' end closes whatever ``coro`` would have closed.
        """
        try:
            if self.loop.is_closed() or self._thread_gone():
                raise RuntimeError("the loop is gone")
            if sys.is_finalizing() and self._thread.ident is None:
                raise RuntimeError("the interpreter is exiting")
            self.loop.call_soon_threadsafe(_Call(coro).start)
            self._want()
        except RuntimeError:
            coro.close()
