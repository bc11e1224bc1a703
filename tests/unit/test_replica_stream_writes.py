"""``ReplicaStream``: a request whose caller is cancelled while its write is under way does not end the call
the other requests share, and a request the call can no longer take goes to its unary fallback.

grpc.aio cancels a whole call when a task awaiting its ``write`` is cancelled (grpc/aio/_call.py,
``_write``). When that happens depends on HTTP/2 flow control, so a live stream cannot be made to hit it
on purpose: ``_Call`` stands in for grpc's call object with that one behaviour, and the executor's side
(results matched by sequence) is played by the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import grpc
import pytest

from docwire.gateway.replica_streams import ReplicaStream
from docwire.gateway.splice import Reply
from docwire_contract.errors import ExecutorUnavailable
from docwire_contract.v1 import executor_pb2, request_pb2

_BOUND = 10.0  # seconds a step may take before the test fails instead of hanging


class _Call:
    """A ProcessStream call: writes wait until ``released``; cancelling a task in a write cancels the call."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.writing = asyncio.Event()
        self.written: list[bytes] = []
        self.both_written = asyncio.Event()  # the scenario's two requests went out
        self.cancelled = False
        self._results: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def write(self, message: bytes) -> None:
        if self.cancelled:
            raise asyncio.InvalidStateError("the call is finished")
        self.writing.set()
        try:
            await self.released.wait()
        except asyncio.CancelledError:
            self.cancel()  # what grpc.aio does
            raise
        self.written.append(message)
        if len(self.written) == 2:
            self.both_written.set()

    def answer(self, sequence: int, request_id: str) -> None:
        """The executor's result for call ``sequence``: a reply carrying ``request_id``."""
        reply = request_pb2.DataRequest()
        reply.header.request_id = request_id
        self._results.put_nowait(executor_pb2.ProcessResult(sequence=sequence, reply=reply).SerializeToString())

    def cancel(self) -> None:
        self.cancelled = True
        self._results.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._read()

    async def _read(self) -> AsyncIterator[bytes]:
        while (result := await self._results.get()) is not None:
            yield result


def _stream(call: _Call) -> ReplicaStream:
    return ReplicaStream(cast(Any, call), "napper", "127.0.0.1:1", shared=True)


def test_a_request_cancelled_in_its_write_leaves_the_call_to_the_others() -> None:
    async def scenario() -> bytes:
        call = _Call()
        stream = _stream(call)
        first = asyncio.create_task(stream.process(b"first", None))
        await asyncio.wait_for(call.writing.wait(), _BOUND)
        second = asyncio.create_task(stream.process(b"second", None))  # waits for its turn to write
        await asyncio.sleep(0)
        first.cancel()  # the Post's client went away while its request was being written
        with pytest.raises(asyncio.CancelledError):
            await first
        assert not call.cancelled
        call.released.set()
        await asyncio.wait_for(call.both_written.wait(), _BOUND)
        call.answer(0, "first")  # read and dropped: nobody waits for it
        call.answer(1, "second")
        reply = await asyncio.wait_for(second, _BOUND)
        assert stream.usable
        stream.cancel()
        return bytes(reply)

    assert request_pb2.DataRequest.FromString(asyncio.run(scenario())).header.request_id == "second"


def test_a_request_the_call_cannot_take_goes_to_its_fallback() -> None:
    async def unary() -> Reply:
        return b"sent unary"

    async def scenario() -> tuple[Reply, Reply, str]:
        call = _Call()
        stream = _stream(call)
        call.cancelled = True  # ended, and the reader has not seen it yet: the write fails
        rerouted = await asyncio.wait_for(stream.process(b"request", None, unsent=unary), _BOUND)
        assert not stream.usable
        again = await asyncio.wait_for(stream.process(b"request", None, unsent=unary), _BOUND)
        with pytest.raises(ExecutorUnavailable) as caught:
            await stream.process(b"request", None)
        stream.cancel()
        return rerouted, again, str(caught.value)

    rerouted, again, error = asyncio.run(scenario())
    assert rerouted == again == b"sent unary"
    assert "executor 'napper' at 127.0.0.1:1" in error


def test_a_write_that_fails_with_a_status_names_it() -> None:
    class _Refused(_Call):
        async def write(self, message: bytes) -> None:
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "gone")

    async def scenario() -> str:
        stream = _stream(_Refused())
        with pytest.raises(ExecutorUnavailable) as caught:
            await asyncio.wait_for(stream.process(b"request", None), _BOUND)
        stream.cancel()
        return str(caught.value)

    assert "executor 'napper' at 127.0.0.1:1" in asyncio.run(scenario())
