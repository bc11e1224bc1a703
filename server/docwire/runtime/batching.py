"""Dynamic batching in the worker: requests to one endpoint grouped into one method call, split back.

A request's documents are decoded (and its parameters validated) before it joins a batch, so a
request whose own documents are invalid fails alone. A batch gathers requests with equal
``BatchKey`` (their parameters, and the metadata the method receives) until it holds
``preferred_batch_size`` documents or ``timeout`` ms have passed since its first request; adding a
request that would take it past ``max_batch_size`` runs it first. Then, holding a slot of the
replica's ``ConcurrencyLimit``, it drops the requests whose deadline passed (``RequestTimeout``:
never run) or whose caller left, calls the method once on the rest's documents, and gives each
request its own slice of what came back, in order. What the method raises is every request's
error; a method that returns a different number of documents than it was given fails the batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from docarray import DocList

from docwire.executor.batching import BatchingPolicy
from docwire.executor.dispatch import Outcome, Parameters
from docwire.runtime.concurrency import ConcurrencyLimit, Deadline
from docwire_contract.doc_types import doclist_of
from docwire_contract.errors import RequestTimeout

__all__ = ["USER_CODE_FAILURES", "BatchKey", "EndpointBatcher", "MethodFailed"]

#: What requests must share to be grouped: their parameters and metadata, as comparable values.
BatchKey = tuple[str, tuple[tuple[str, str], ...]]

#: Runs the method once: documents, parameters, metadata -> what it produced.
MethodCall = Callable[[DocList[Any], Parameters, dict[str, str]], Awaitable[Outcome]]


#: What user code raising fails its call alone: any exception, and the two that would otherwise stop the whole
#: process (``sys.exit`` deep in a library a method calls, a stray ``KeyboardInterrupt``: real signals reach the
#: server's handlers, not methods). Cancellation is not the method's failure and goes on.
USER_CODE_FAILURES = (Exception, SystemExit, KeyboardInterrupt)


class MethodFailed(Exception):
    """The endpoint method (user code) raised ``cause``; the runtime's own errors are not wrapped."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


@dataclass(slots=True)
class _Request:
    docs: DocList[Any]
    deadline: Deadline
    answer: asyncio.Future[Outcome]


@dataclass(slots=True)
class _Batch:
    parameters: Parameters
    metadata: dict[str, str]
    requests: list[_Request] = field(default_factory=list)
    size: int = 0
    timer: asyncio.TimerHandle | None = None


class EndpointBatcher:
    """The open batches of one endpoint, one per ``BatchKey``.

    Args:
        policy: sizes and timeout.
        call: runs the method once on a batch.
        limit: the replica's concurrency limit; a batch holds one slot while its call runs.
        input_type: the document class of the requests' documents.
        output_type: the document class the method's documents are split back into.
    """

    def __init__(
        self,
        policy: BatchingPolicy,
        call: MethodCall,
        limit: ConcurrencyLimit,
        input_type: type[Any],
        output_type: type[Any],
    ) -> None:
        self._policy = policy
        self._call = call
        self._limit = limit
        self._input_type = input_type
        self._output_type = output_type
        self._open: dict[BatchKey, _Batch] = {}
        self._running: set[asyncio.Task[None]] = set()

    async def submit(
        self,
        docs: DocList[Any],
        key: BatchKey,
        parameters: Parameters,
        metadata: dict[str, str],
        deadline: Deadline,
    ) -> Outcome:
        """What this request's documents came back as, once its batch ran.

        Raises:
            RequestTimeout: the request's deadline passed before its batch ran.
            MethodFailed: the method raised while running the batch.
        """
        batch = self._open.get(key)
        limit = self._policy.max_batch_size
        if batch is not None and limit is not None and batch.size + len(docs) > limit:
            self._start(key)
            batch = None
        if batch is None:
            batch = self._open[key] = _Batch(parameters, metadata)
            delay = self._policy.timeout / 1000
            batch.timer = asyncio.get_running_loop().call_later(delay, self._start, key, batch)
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        request = _Request(docs, deadline, answer)
        batch.requests.append(request)
        batch.size += len(docs)
        if batch.size >= self._policy.preferred_batch_size:
            self._start(key)
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        try:  # on timeout the answer is cancelled: a batch not yet running leaves this request out
            return await asyncio.wait_for(answer, timeout)
        except TimeoutError:
            self._withdraw(key, batch, request)
            raise RequestTimeout("the request's deadline passed while it waited for its batch") from None
        except asyncio.CancelledError:  # the caller went away
            self._withdraw(key, batch, request)
            raise

    def _withdraw(self, key: BatchKey, batch: _Batch, request: _Request) -> None:
        """Takes a request that no longer waits out of its batch, if that batch is still open."""
        if self._open.get(key) is not batch:
            return
        batch.requests.remove(request)
        batch.size -= len(request.docs)
        if not batch.requests:
            del self._open[key]
            if batch.timer is not None:
                batch.timer.cancel()

    def _start(self, key: BatchKey, expected: _Batch | None = None) -> None:
        """Closes the open batch of ``key`` (only if it is still ``expected``, for its timer) and runs it."""
        batch = self._open.get(key)
        if batch is None or (expected is not None and batch is not expected):
            return
        del self._open[key]
        if batch.timer is not None:
            batch.timer.cancel()
        task = asyncio.create_task(self._run(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, batch: _Batch) -> None:
        latest = _latest(batch.requests)
        try:
            async with self._limit.slot(latest, "its batch ran"):
                waiting = _still_waiting(batch.requests)
                if not waiting:
                    return
                docs = doclist_of(self._input_type, [doc for request in waiting for doc in request.docs])
                try:
                    outcome = await self._call(docs, batch.parameters, batch.metadata)
                    answers = self._split(waiting, docs, outcome)
                except USER_CODE_FAILURES as exc:  # user code: every request of the batch gets its error
                    _fail(waiting, MethodFailed(exc))
                    return
        except RequestTimeout as exc:  # no slot before the last deadline: nobody waits any more
            _fail(batch.requests, exc)
            return
        except BaseException:
            _fail(batch.requests, RequestTimeout("the batch was stopped before it ran"))
            raise
        for request, answer in zip(waiting, answers, strict=True):
            if not request.answer.done():
                request.answer.set_result(answer)

    def _split(self, waiting: list[_Request], docs: DocList[Any], outcome: Outcome) -> list[Outcome]:
        """Each request's share of ``outcome``: its own documents (changed in place) or its slice of new ones."""
        if outcome.docs is docs:
            return [Outcome(request.docs, outcome.result) for request in waiting]
        if len(outcome.docs) != len(docs):
            raise ValueError(
                f"a dynamically batched endpoint must return one document per input document (or None): it was "
                f"given {len(docs)} and returned {len(outcome.docs)}"
            )
        shares, start = [], 0
        for request in waiting:
            end = start + len(request.docs)
            shares.append(Outcome(doclist_of(self._output_type, outcome.docs[start:end]), outcome.result))
            start = end
        return shares

    async def close(self) -> None:
        """Runs the batches still open and waits for every batch to finish."""
        for key in list(self._open):
            self._start(key)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


def _latest(requests: list[_Request]) -> Deadline:
    """The last deadline among ``requests`` (None when one has none): until then someone waits."""
    deadlines = [r.deadline for r in requests]
    return None if any(d is None for d in deadlines) else max(d for d in deadlines if d is not None)


def _still_waiting(requests: list[_Request]) -> list[_Request]:
    """The requests still to run; those past their deadline are answered ``RequestTimeout`` here."""
    now = time.monotonic()
    waiting = []
    for request in requests:
        if request.answer.done():  # the caller went away
            continue
        if request.deadline is not None and now >= request.deadline:
            request.answer.set_exception(RequestTimeout("the request's deadline passed before its batch ran"))
            continue
        waiting.append(request)
    return waiting


def _fail(requests: list[_Request], error: BaseException) -> None:
    for request in requests:
        if not request.answer.done():
            request.answer.set_exception(error)
