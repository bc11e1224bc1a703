"""The requests of one client stream, sent to each executor replica over one ProcessStream call.

A unary call costs its set-up on both sides (a new HTTP/2 stream, call objects, a
handler task on the executor): with 214 kB requests, about 370 µs of CPU per request
more than a message on an open stream. So for a client's Stream call the gateway
opens one ProcessStream call per replica it sends to, and matches results to
requests by a sequence number it chooses.

The first request to each replica still goes as a unary Process call: a client
stream of one request (a single ``Client.post``) costs what it cost before, and the
unary path is the one that skips a replica refusing connections. A stream is opened
only to a replica whose channel is connected; one that fails answers its requests
in flight with the error a unary call would have raised, and later requests go
unary (and open a new stream once the channel is connected again).

A stream's metadata is sent once, when it opens. A request whose metadata is not the
stream's (tracing: each request has its own ``traceparent``) carries its W3C trace context
in its ProcessCall (``traceparent``, ``tracestate``), which the executor reads instead.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence

import grpc

from docwire.gateway.call_errors import call_error, upstream_error
from docwire.gateway.splice import Reply
from docwire_contract.codec import LENGTH_DELIMITED, VARINT, field_key, varint_bytes
from docwire_contract.errors import DocwireError, ExecutorUnavailable, RequestTimeout, status_code_of
from docwire_contract.framing import Span, joined, spans
from docwire_contract.v1 import executor_pb2

Metadata = Sequence[tuple[str, str]]

__all__ = ["ReplicaStream", "UpstreamStreams"]

#: How long closing waits for an executor to end a stream whose requests are all answered.
CLOSE_GRACE_S = 2.0

#: The keys (field number and wire type) of ``ProcessCall.sequence`` and ``ProcessCall.request``.
_SEQUENCE_TAG = field_key(executor_pb2.ProcessCall.SEQUENCE_FIELD_NUMBER, VARINT)
_REQUEST_TAG = field_key(executor_pb2.ProcessCall.REQUEST_FIELD_NUMBER, LENGTH_DELIMITED)
#: The keys of ``ProcessCall.traceparent`` and ``ProcessCall.tracestate``, by metadata key.
_TRACE_TAGS = {
    "traceparent": field_key(executor_pb2.ProcessCall.TRACEPARENT_FIELD_NUMBER, LENGTH_DELIMITED),
    "tracestate": field_key(executor_pb2.ProcessCall.TRACESTATE_FIELD_NUMBER, LENGTH_DELIMITED),
}


def call_bytes(sequence: int, raw: Reply, trace: bytes = b"") -> bytes:
    """A serialized ProcessCall around a serialized DataRequest, built without parsing it (``trace``: its
    serialized trace context fields, from ``trace_fields``)."""
    return b"".join((_SEQUENCE_TAG, varint_bytes(sequence), _REQUEST_TAG, varint_bytes(len(raw)), raw, trace))


def trace_fields(metadata: Metadata) -> bytes:
    """``metadata``'s W3C trace context as serialized ProcessCall fields (empty when it has none)."""
    fields = b""
    for key, value in metadata:
        tag = _TRACE_TAGS.get(key)
        if tag is not None:
            encoded = value.encode()
            fields += tag + varint_bytes(len(encoded)) + encoded
    return fields


_SEQUENCE = executor_pb2.ProcessResult.SEQUENCE_FIELD_NUMBER
_REPLY = executor_pb2.ProcessResult.REPLY_FIELD_NUMBER
_ERROR = executor_pb2.ProcessResult.ERROR_FIELD_NUMBER


def result_parts(raw: bytes) -> tuple[int, memoryview | executor_pb2.CallError]:
    """A serialized ProcessResult's sequence and outcome: the reply's bytes (a view into ``raw``, never
    parsed here: it goes on to the client as it came) or the error, as protobuf would read them.

    Raises:
        ValueError: ``raw`` is not a ProcessResult with an outcome.
    """
    found = spans(raw)
    sequence = 0
    outcome: Span | None = None
    for span in found:
        if span.number == _SEQUENCE:
            sequence = span.varint
        elif span.number in (_REPLY, _ERROR):
            outcome = span  # a oneof: the last one read wins
    if outcome is None:
        raise ValueError("a ProcessResult without an outcome")
    if outcome.number == _ERROR:
        return sequence, executor_pb2.CallError.FromString(joined(raw, found, _ERROR))
    occurrences = [span for span in found if span.number == _REPLY]
    if len(occurrences) == 1:
        return sequence, memoryview(raw)[outcome.value : outcome.end]
    return sequence, memoryview(joined(raw, found, _REPLY))  # merged, as the parser would


class ReplicaStream:
    """One ProcessStream call to one replica: requests written in turn, results matched by sequence."""

    def __init__(
        self,
        call: grpc.aio.StreamStreamCall[bytes, bytes],
        executor: str,
        address: str,
        metadata: Metadata = (),
        *,
        shared: bool = False,
    ):
        """``shared``: the call carries requests of many callers (the gateway's Posts), each of which may be
        cancelled on its own: writes are then shielded (see ``process``)."""
        self._call = call
        self._shared = shared
        self._metadata = metadata  # what the call was opened with
        self._executor = executor
        self._address = address
        self._sequences = itertools.count()
        self._pending: dict[int, asyncio.Future[memoryview]] = {}
        self._abandoned: set[int] = set()  # timed out here, maybe still running on the executor
        self._writing = asyncio.Lock()  # grpc.aio takes one write at a time
        self._failure: DocwireError | None = None
        self._reader = asyncio.create_task(self._read())

    @property
    def usable(self) -> bool:
        """Whether the call is open: it neither failed nor ended."""
        return self._failure is None

    async def process(
        self,
        raw: Reply,
        timeout: float | None,
        metadata: Metadata | None = None,
        unsent: Callable[[], Awaitable[Reply]] | None = None,
    ) -> Reply:
        """What Process returns for ``raw`` (a view of the result's bytes; sent with ``metadata``'s trace
        context when it is not the call's); raises what the gateway reports when it would have failed.

        A request the call can no longer take (it failed or ended before the request was written) goes
        to ``unsent()`` instead when given (the unary path, which may pick another replica): it never
        reached this replica, so it cannot run twice.
        """
        if self._failure is not None:
            return await _elsewhere(self._failure, unsent)
        sequence = next(self._sequences)
        answer: asyncio.Future[memoryview] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = answer
        try:
            trace = b"" if metadata is None or metadata is self._metadata else trace_fields(metadata)
            message = call_bytes(sequence, raw, trace)
            try:
                # grpc.aio cancels the whole call when a task awaiting its write is cancelled: a shared call's
                # writes are shielded (a task each); a client stream's calls end with it anyway.
                await (asyncio.shield(self._write(message)) if self._shared else self._write_in_turn(message))
            except grpc.aio.AioRpcError as exc:  # the call ended before the request was written
                return await self._not_written(sequence, upstream_error(exc, self._executor, self._address), unsent)
            except asyncio.InvalidStateError:  # the same, without an error status
                ended = self._failure or ExecutorUnavailable(f"{self._where} ended the stream")
                return await self._not_written(sequence, ended, unsent)
            return await (answer if timeout is None else asyncio.wait_for(answer, timeout))
        except TimeoutError:
            self._abandoned.add(sequence)
            raise RequestTimeout(f"{self._where} did not answer before the deadline") from None
        finally:
            self._pending.pop(sequence, None)
            _settle(answer)

    async def _not_written(
        self, sequence: int, failure: DocwireError, unsent: Callable[[], Awaitable[Reply]] | None
    ) -> Reply:
        """Fails the call with ``failure``; the request that could not be written goes to ``unsent()``, or
        raises ``failure``."""
        answer = self._pending.pop(sequence)  # not failed with the others: it goes elsewhere, or raises here
        if answer.done():  # the reader failed it meanwhile: that failure is not the one reported
            answer.exception()
        self._fail(failure)
        return await _elsewhere(failure, unsent)

    def _write(self, message: bytes) -> asyncio.Task[None]:
        """Writes ``message`` in a task of its own (writes go one at a time); its failure is read by the
        caller, or dropped when the caller was cancelled meanwhile."""
        task = asyncio.ensure_future(self._write_in_turn(message))
        task.add_done_callback(_drop_failure)
        return task

    async def _write_in_turn(self, message: bytes) -> None:
        async with self._writing:
            await self._call.write(message)

    @property
    def _where(self) -> str:
        return f"executor {self._executor!r} at {self._address}"

    async def _read(self) -> None:
        try:
            async for raw in self._call:
                try:
                    sequence, outcome = result_parts(raw)
                except ValueError as exc:
                    raise ExecutorUnavailable(f"{self._where} sent what is not a ProcessResult: {exc}") from None
                answer = self._pending.get(sequence)
                if answer is None or answer.done():  # its request timed out meanwhile
                    self._abandoned.discard(sequence)
                    continue
                if isinstance(outcome, executor_pb2.CallError):
                    code = status_code_of(outcome.code)
                    answer.set_exception(
                        call_error(code, outcome.details, outcome.error_class, self._executor, self._address)
                    )
                else:
                    answer.set_result(outcome)
            self._fail(ExecutorUnavailable(f"{self._where} ended the stream"))
        except ExecutorUnavailable as failure:  # not a docwire executor's result: nothing more is read from it
            self._fail(failure)
            self._call.cancel()
        except grpc.aio.AioRpcError as exc:
            self._fail(upstream_error(exc, self._executor, self._address))
        except asyncio.CancelledError:
            self._fail(ExecutorUnavailable(f"{self._where}: the stream was closed"))
            raise

    def _fail(self, failure: DocwireError) -> None:
        """Marks the call failed (no request is sent on it again) and fails the requests waiting on it."""
        self._failure = failure
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(failure)

    async def close(self) -> None:
        """Ends the call: politely when its requests are answered, else by cancelling it (as a unary
        call's deadline would cancel a request that timed out and may still be running)."""
        if self._failure is None and not self._pending and not self._abandoned:
            try:
                await self._call.done_writing()
                await asyncio.wait_for(asyncio.shield(self._reader), CLOSE_GRACE_S)
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError, TimeoutError):
                pass
        self.cancel()

    def cancel(self) -> None:
        """Cancels the call at once (requests in flight fail)."""
        self._call.cancel()
        self._reader.cancel()


async def _elsewhere(failure: DocwireError, unsent: Callable[[], Awaitable[Reply]] | None) -> Reply:
    """What ``unsent()`` returns for a request a call could not take; ``failure`` raised without it."""
    if unsent is None:
        raise failure
    return await unsent()


def _settle(answer: asyncio.Future[memoryview]) -> None:
    """Leaves a request's answer with nothing to report once its caller is done with it: cancelled if it never
    came, its failure marked read if it failed. (A caller cancelled after the call's end failed its answer, with
    its client stream, never reads that failure: asyncio would log it as never retrieved.)"""
    if not answer.done():
        answer.cancel()
    elif not answer.cancelled():
        answer.exception()


def _drop_failure(task: asyncio.Task[None]) -> None:
    """Marks a write's failure as read: the request's caller reads it, unless it was cancelled meanwhile."""
    if not task.cancelled():
        task.exception()


class UpstreamStreams:
    """The ProcessStream calls of one client stream, one per replica, opened on the second request to it.

    It neither opens calls nor picks replicas: for each request, ``forwarding.forward``
    asks it for the stream open to the replica the pool's turn gives, and hands it the
    pool's new call when one should be opened.
    """

    def __init__(self, *, shared: bool = False) -> None:
        """``shared``: the streams carry requests of many callers (``ReplicaStream``'s ``shared``)."""
        self._shared = shared
        self._streams: dict[tuple[str, int], ReplicaStream] = {}
        self._used: set[tuple[str, int]] = set()

    def stream_to(self, executor: str, index: int) -> ReplicaStream | None:
        """The stream open to replica ``index`` of ``executor`` while it serves (a failed one is dropped)."""
        key = (executor, index)
        stream = self._streams.get(key)
        if stream is None or stream.usable:
            return stream
        del self._streams[key]
        stream.cancel()
        return None

    def first_request_to(self, executor: str, index: int) -> bool:
        """Records a request to that replica with no stream open; True for the first one, which goes unary."""
        key = (executor, index)
        if key in self._used:
            return False
        self._used.add(key)
        return True

    def open(
        self,
        executor: str,
        index: int,
        address: str,
        call: grpc.aio.StreamStreamCall[bytes, bytes],
        metadata: Metadata = (),
    ) -> ReplicaStream:
        """Sends the requests to replica ``index`` of ``executor`` (at ``address``) over ``call`` (opened
        with ``metadata``) from now on."""
        stream = ReplicaStream(call, executor, address, metadata, shared=self._shared)
        self._streams[(executor, index)] = stream
        return stream

    @property
    def opened(self) -> int:
        """How many streams are open (for tests and diagnostics)."""
        return sum(stream.usable for stream in self._streams.values())

    async def close(self) -> None:
        """Ends every stream (the caller has its replies)."""
        streams, self._streams = list(self._streams.values()), {}
        await asyncio.gather(*(stream.close() for stream in streams))

    def cancel(self) -> None:
        """Cancels every stream at once."""
        streams, self._streams = list(self._streams.values()), {}
        for stream in streams:
            stream.cancel()
