"""One Stream call to the gateway that a client's single-request posts share: ``SharedCall`` on the
``AsyncClient``'s event loop, ``BlockingSharedCall`` on gRPC's sync API for the sync ``Client``.

A unary call costs its set-up on both ends (a new HTTP/2 stream, call objects, a handler
task in the gateway); a message on a call already open costs the gateway about 300 µs of
CPU less for a small request, a fifth of a round trip's latency (``docs/performance.md``,
"Session 10"). So a post that is one small request without metadata is written on one
Stream call kept open between posts, and its reply is matched to it by request id, as the
WebSocket transport does with its shared socket (``ws_transport._SharedSocket``).

What the gateway does on a Stream call is what it does on a Post: the same routing, the
same executors; a failure the gateway names (an unknown endpoint, an executor it cannot
reach) comes in the reply's status instead of the call's, and ``Callbacks.handle`` raises
the same error from it.

* Writes are shielded (a task each): grpc.aio cancels the whole call when a task
  awaiting a write is cancelled, and the call carries other posts' requests.
* A call found ended when a request is written (the gateway restarted while it sat idle)
  is replaced and the request written again: it never went out.
* A call that ends after a request went out fails that request with the call's error
  (``grpc.aio.AioRpcError``), which the transport retries or reports as it would a Post's.
* A post cancelled by its caller leaves its request running on the gateway; the reply is
  dropped when it comes.
* A call carries at most ``MAX_POSTS_PER_CALL`` posts; later ones go on a new call, and the old
  one ends its writing side, so the gateway ends it once its replies are sent.

The sync form has no write to shield: gRPC writes the queued requests from a thread of its
own, and a request queued on a call that has ended is never written, so a post checks that
its call has not ended when it queues (under the lock the reader takes to report the end).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import cast

import grpc

from docwire_client.loops import reusable_on_this_loop
from docwire_contract.v1 import request_pb2

__all__ = ["BlockingSharedCall", "SharedCall"]

Reply = request_pb2.DataRequest
#: Posts a shared call carries before later ones go on a new call (the old one ends once its replies are in):
#: a proxy that balances gRPC calls across gateways (per call, as with unary Posts) gets to place them again.
MAX_POSTS_PER_CALL = 1000
#: How long closing a sync client's shared call waits for its reader thread to end.
CLOSE_WAIT_S = 5.0
#: How long opening it waits for its two threads to run.
THREAD_START_WAIT_S = 5.0
OpenCall = Callable[[], "grpc.aio.StreamStreamCall[bytes, Reply]"]
#: Opens a Stream call of gRPC's sync API on the requests an iterator yields: the replies' iterator, a grpc.Call.
OpenBlockingCall = Callable[[Iterator[bytes]], "grpc._CallIterator[Reply]"]


class _Open:
    """One open Stream call, with the posts waiting for a reply on it."""

    def __init__(self, call: grpc.aio.StreamStreamCall[bytes, Reply]) -> None:
        self.call = call
        self.waiting: dict[str, asyncio.Future[Reply]] = {}
        self.posts = 0  # taken so far
        self._writing = asyncio.Lock()  # grpc.aio takes one write at a time
        self.reader = asyncio.create_task(self._read())
        self._retiring: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference to a task

    def retire(self) -> None:
        """Ends the writing side after the writes already queued: the gateway answers them, then ends the call."""
        self._retiring = asyncio.ensure_future(self._end_writing())

    async def _end_writing(self) -> None:
        async with self._writing:
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                await self.call.done_writing()

    def write(self, raw: bytes) -> asyncio.Task[None]:
        """Writes ``raw`` in a task of its own; its failure is read by the caller, or dropped when the
        caller was cancelled meanwhile."""
        task = asyncio.ensure_future(self._write_in_turn(raw))
        task.add_done_callback(_drop_failure)
        return task

    async def _write_in_turn(self, raw: bytes) -> None:
        async with self._writing:
            await self.call.write(raw)

    async def _read(self) -> None:
        """Hands each reply to the post waiting for it; when the call ends, fails the posts still waiting."""
        failure: BaseException
        try:
            async for reply in self.call:
                future = self.waiting.get(reply.header.request_id)
                if future is not None and not future.done():
                    future.set_result(reply)
            failure = _ended("the gateway ended the call")
        except grpc.aio.AioRpcError as exc:
            failure = exc
        except asyncio.CancelledError:
            failure = _ended("the client closed the call")
            self._fail(failure)
            raise
        self._fail(failure)

    def _fail(self, failure: BaseException) -> None:
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(failure)


class SharedCall:
    """The Stream call single requests share: each post writes its request and waits for the reply with its id.

    Args:
        open_call: opens a new Stream call (on the transport's channel, in the running loop).
    """

    def __init__(self, open_call: OpenCall) -> None:
        self._open_call = open_call
        self._open: _Open | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, raw: bytes, request_id: str) -> Reply:
        """Sends one serialized request and waits for its reply.

        Raises:
            grpc.aio.AioRpcError: the call ended before the reply came (or, on a fresh call,
                before the request could be written).
        """
        for fresh in (False, True):
            current = self._current()
            future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
            current.waiting[request_id] = future
            try:
                try:
                    await asyncio.shield(current.write(raw))
                except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as exc:  # ended before this went out
                    self._forget(current)
                    if not fresh:
                        continue
                    if isinstance(exc, grpc.aio.AioRpcError):
                        raise
                    raise _ended("the gateway ended the call") from None
                return await future
            finally:
                current.waiting.pop(request_id, None)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _current(self) -> _Open:
        if not reusable_on_this_loop(self._loop, "its gRPC call"):
            self._open = None  # its loop is gone, and the call with it
        current = self._open
        if current is not None and current.posts >= MAX_POSTS_PER_CALL and not current.reader.done():
            current.retire()
            current = None
        if current is None or current.reader.done():
            current = self._open = _Open(self._open_call())
            self._loop = asyncio.get_running_loop()
        current.posts += 1
        return current

    def _forget(self, current: _Open) -> None:
        if self._open is current:
            self._open = None

    async def close(self) -> None:
        """Ends the call (posts still waiting on it fail); a later post opens a new one."""
        current, self._open = self._open, None
        if current is not None:
            current.call.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await current.reader


def _ended(why: str) -> grpc.aio.AioRpcError:
    """The error a post waiting on a call gets when the call ended without its reply: UNAVAILABLE (the request
    may be sent again), as gRPC reports a call whose server went away."""
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details=f"{why} before the reply came"
    )


def _drop_failure(task: asyncio.Task[None]) -> None:
    """Marks a write's failure as read: the post reads it, unless it was cancelled meanwhile."""
    if not task.cancelled():
        task.exception()


class _Waiter:
    """A post of ``BlockingSharedCall`` waiting for its reply: a lock held until the reply (or the call's
    failure) is set, which the post's thread acquires (interruptible by Ctrl-C)."""

    __slots__ = ("_failure", "_ready", "_reply")

    def __init__(self) -> None:
        self._ready = threading.Lock()
        self._ready.acquire()
        self._reply: Reply | None = None
        self._failure: BaseException | None = None

    def set(self, reply: Reply | None, failure: BaseException | None = None) -> None:
        self._reply, self._failure = reply, failure
        self._ready.release()

    def result(self) -> Reply:
        self._ready.acquire()
        if self._failure is not None:
            raise self._failure
        return cast(Reply, self._reply)


class _BlockingOpen:
    """One open Stream call of gRPC's sync API: gRPC writes what ``requests`` yields from a thread of its
    own; a reader thread hands each reply to the post waiting for it."""

    def __init__(self, open_call: OpenBlockingCall) -> None:
        self._requests: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._waiting: dict[str, _Waiter] = {}
        self.failure: BaseException | None = None  # set once the call ended
        self.posts = 0  # taken so far
        writing, reading = threading.Event(), threading.Event()
        self._call = open_call(self._queued(writing))
        self._reader = threading.Thread(target=self._read, args=(reading,), name="docwire-shared-call", daemon=True)
        self._reader.start()
        # Both threads running before the first post returns (a precaution): a thread ``start`` has returned
        # for may not have run yet, still in threading's list of threads being started, which a child forked
        # meanwhile clears, releasing the gRPC call that thread holds in a process where gRPC may not run.
        # (A forked child aborted once in that clean-up, in the test suite; not reproduced since.)
        writing.wait(THREAD_START_WAIT_S)
        reading.wait(THREAD_START_WAIT_S)

    def _queued(self, writing: threading.Event) -> Iterator[bytes]:
        """The requests, as gRPC's writing thread takes them (until ``None``)."""
        writing.set()
        while (raw := self._requests.get()) is not None:
            yield raw

    def send(self, raw: bytes, request_id: str) -> _Waiter | None:
        """Queues ``raw`` for writing and returns what its reply comes to; None when the call already ended."""
        waiter = _Waiter()
        with self._lock:
            if self.failure is not None:
                return None
            self._waiting[request_id] = waiter
        self._requests.put(raw)
        return waiter

    def retire(self) -> None:
        """Ends the writing side after the requests already queued: the gateway answers them, then ends the call."""
        self._requests.put(None)

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._waiting.pop(request_id, None)

    def _read(self, reading: threading.Event) -> None:
        reading.set()
        failure: BaseException
        try:
            for reply in self._call:
                with self._lock:
                    waiter = self._waiting.pop(reply.header.request_id, None)
                if waiter is not None:
                    waiter.set(reply)
            failure = _ended("the gateway ended the call")
        except grpc.RpcError as exc:  # the rendezvous itself: a grpc.Call with the status
            failure = exc
        with self._lock:
            self.failure = failure
            waiting, self._waiting = list(self._waiting.values()), {}
        self._requests.put(None)  # gRPC's writing thread waits on the queue until it ends
        for waiter in waiting:
            waiter.set(None, failure)

    def close(self) -> None:
        """Ends the call and waits (briefly) for its reader: a closed client leaves no thread running."""
        self._requests.put(None)  # ends gRPC's writing thread
        self._call.cancel()
        self._reader.join(timeout=CLOSE_WAIT_S)


class BlockingSharedCall:
    """``SharedCall`` for gRPC's sync API: the Stream call a sync ``Client``'s single-request posts share,
    from any of its threads. Each post waits in its own thread; the call's replies are read by a thread
    of the call's own.

    Args:
        open_call: opens a new Stream call that writes what the iterator it is given yields.
    """

    def __init__(self, open_call: OpenBlockingCall) -> None:
        self._open_call = open_call
        self._lock = threading.Lock()
        self._open: _BlockingOpen | None = None

    def call(self, raw: bytes, request_id: str) -> Reply:
        """Sends one serialized request and waits for its reply.

        Raises:
            grpc.RpcError: the call ended before the reply came.
        """
        for fresh in (False, True):
            with self._lock:  # held while queueing too, so a call is retired only after what was queued on it
                current = self._open
                if current is not None and current.failure is None and current.posts >= MAX_POSTS_PER_CALL:
                    current.retire()
                    current = None
                if current is None or current.failure is not None:
                    current = self._open = _BlockingOpen(self._open_call)
                current.posts += 1
                waiter = current.send(raw, request_id)
            if waiter is None:  # ended since it was looked at: the request was not queued on it
                if fresh:
                    raise cast(BaseException, current.failure)
                continue
            try:
                return waiter.result()
            finally:
                current.forget(request_id)
        raise AssertionError("unreachable")  # the loop returns or raises

    def close(self) -> None:
        """Ends the call (posts still waiting on it fail); a later post opens a new one."""
        with self._lock:
            current, self._open = self._open, None
        if current is not None:
            current.close()
