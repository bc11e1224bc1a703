"""One thread that runs an executor's sync methods, one call at a time, off the event loop.

What ``loop.run_in_executor(ThreadPoolExecutor(max_workers=1), ...)`` does, with less on
the way: a call is one queue item and one ``call_soon_threadsafe`` back, where the pool
adds a ``concurrent.futures.Future`` (with its condition variable and locks), a work
item, a wrapping asyncio future and callbacks chaining the two. That hop is on the path
of every request to a sync endpoint.

Semantics are the pool's: calls run in submission order on one thread (models are
rarely thread-safe; replicas add parallelism); a call already running finishes even if
its awaiting task is cancelled; exceptions, ``BaseException`` included, reach the awaiting
task; the caller's context variables are not carried over.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["SyncRunner"]

_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


def _deliver(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class SyncRunner:
    """Runs sync callables on one worker thread; ``await runner.run(fn)`` from any event loop."""

    def __init__(self, name: str = "sync-runner") -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[[], Any]) -> Any:
        """Runs ``fn()`` on the worker thread and returns (or raises) what it did.

        Raises:
            RuntimeError: the runner was shut down.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the sync runner is shut down")
            self._calls.put((loop, future, fn))
        return await future

    def shutdown(self, wait: bool = True) -> None:
        """Lets the calls already queued finish, then stops the thread (waiting for it with ``wait``)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._calls.put(None)
        if wait:
            self._thread.join()

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            loop, future, fn = call
            result: Any = None
            error: BaseException | None = None
            try:
                result = fn()
            except BaseException as exc:  # noqa: BLE001 - delivered to the awaiting task, as a pool would
                error = exc
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(_deliver, future, result, error)
            del call, future, fn, result, error  # drop references before blocking on the queue
