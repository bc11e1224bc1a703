"""Runs one request through a ``GraphPlan``: each executor once its needs have replied.

Every executor is a task awaiting the replies it needs: one reply goes on as it is (its
bytes, unparsed again); several are merged (``merge``, or the executor's reduce hook).
An executor with a ``when`` filter gets only the documents that pass (none pass: it is
skipped); the others go by it and are put back among its reply's documents, in their
places when it returns as many documents as it got, else after them. The reply is the
merge of the leaves' replies.

The first executor on the response path that fails (an error status, or a call that
fails) fails the request: its error reply is the reply, the other tasks on the path are
cancelled. Floating executors (and those needing them) run on: their replies are not
awaited, and their failures are logged, never returned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docwire.gateway.graph import GraphPlan, PlannedNode
from docwire.gateway.merge import DocsReducer, docs_of, merge_replies, with_docs
from docwire.gateway.reduce_hook import ReduceHookFailed
from docwire.gateway.replies import with_parameters, with_results
from docwire.gateway.router import scope_parameters
from docwire.gateway.topology import GATEWAY
from docwire_contract.v1 import document_pb2, request_pb2

__all__ = ["GraphRequest", "Replied", "Send", "run_graph"]

logger = logging.getLogger("docwire.gateway")

#: Sends serialized request bytes to an executor (by name) with a timeout, and whether the reply waits for
#: it (a floating executor's calls must not use the client stream's upstream calls: they may outlive it).
Send = Callable[[str, bytes, float | None, bool], Awaitable[bytes]]

#: Told of each executor's reply: its name, its status code (a floating executor's is not the request's: always
#: success), and the ``time.perf_counter()`` when its call started (the gateway's metrics time each call).
Replied = Callable[[str, "request_pb2.Status.Code.ValueType", float], None]

#: Floating executors still running: held here so their tasks are not collected before they end.
_floating: set[asyncio.Task[Any]] = set()


@dataclass(frozen=True, slots=True)
class GraphRequest:
    """One request as the graph runs it.

    Attributes:
        request: the client's request, parsed.
        raw: its bytes.
        parameters: its parameters as a dict (None when it has none).
        scoped: whether parameters hold ``<executor>__key`` keys (then each executor gets its own).
        names: every executor's name (for scoping).
        deadline: ``time.monotonic()`` by which the reply is due, or None.
        reducers: the reduce hook of each executor that has one.
        replied: told of each executor's reply, when the request is observed (``Replied``).
    """

    request: request_pb2.DataRequest
    raw: bytes
    parameters: dict[str, Any] | None
    scoped: bool
    names: set[str]
    deadline: float | None
    reducers: Mapping[str, DocsReducer]
    replied: Replied | None = None


class _Failed(Exception):
    """An executor's reply with an error status: it becomes the request's reply."""

    def __init__(self, reply: bytes) -> None:
        super().__init__("an executor failed")
        self.reply = reply


_Result = tuple[bytes, request_pb2.DataRequest]


async def run_graph(plan: GraphPlan, graph_request: GraphRequest, send: Send) -> bytes:
    """The reply (without the gateway's route) to ``graph_request`` along ``plan``.

    Raises:
        DocwireError: a call to an executor on the response path failed (naming it and its address).
    """
    tasks: dict[str, asyncio.Task[_Result]] = {}
    gateway: asyncio.Future[_Result] = asyncio.get_running_loop().create_future()
    gateway.set_result((graph_request.raw, graph_request.request))
    for planned in plan.nodes:
        upstream = [gateway if need == GATEWAY else tasks[need] for need in planned.needs]
        task = asyncio.create_task(_run_node(planned, upstream, graph_request, send))
        tasks[planned.name] = task
        if not planned.on_path:
            _floating.add(task)
            task.add_done_callback(_floating_done(planned.name))
    on_path = [tasks[p.name] for p in plan.nodes if p.on_path]
    if on_path:
        try:
            await asyncio.wait(on_path, return_when=asyncio.FIRST_EXCEPTION)
        except BaseException:  # the request was cancelled
            _cancel(on_path)
            raise
        failed = next((t for t in on_path if t.done() and not t.cancelled() and t.exception() is not None), None)
        if failed is not None:  # the first failure in the plan's order: a branch failing fails the request at once
            _cancel(on_path)
            error = failed.exception()
            if isinstance(error, _Failed):
                return error.reply
            assert error is not None
            raise error
    leaves = [tasks[name].result() for name in plan.leaves]
    if not leaves:
        reply_raw, reply = graph_request.raw, graph_request.request
    elif len(leaves) == 1:
        reply_raw, reply = leaves[0]
    else:
        reply = merge_replies([reply for _, reply in leaves])
        reply_raw = reply.SerializeToString()
    if graph_request.scoped:
        reply_raw = with_parameters(reply, with_results(graph_request.parameters or {}, reply))
    return reply_raw


def _cancel(tasks: Sequence[asyncio.Task[_Result]]) -> None:
    """Cancels what still runs; reads the failure of what ended (so none is reported as never retrieved)."""
    for task in tasks:
        if not task.done():
            task.cancel()
        elif not task.cancelled():
            task.exception()


def _floating_done(name: str) -> Callable[[asyncio.Task[_Result]], None]:
    def done(task: asyncio.Task[_Result]) -> None:
        _floating.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, _Failed):
            status = request_pb2.DataRequest.FromString(error.reply).header.status
            logger.warning("floating executor %r failed: %s", name, status.description)
        elif error is not None:
            logger.warning("floating executor %r failed: %s", name, error)

    return done


async def _run_node(
    planned: PlannedNode, upstream: Sequence[asyncio.Future[_Result]], graph_request: GraphRequest, send: Send
) -> _Result:
    inputs = [await future for future in upstream]
    if len(inputs) == 1:
        raw, request = inputs[0]
    else:
        replies = [reply for _, reply in inputs]
        try:
            request = merge_replies(replies, graph_request.reducers.get(planned.name))
        except ReduceHookFailed as failed:
            raise _Failed(failed.reply(replies[0])) from failed
        raw = b""
    if not planned.serves:
        return raw or request.SerializeToString(), request
    skipped: list[tuple[int, document_pb2.Doc]] = []
    sent = request
    if planned.when is not None:
        docs = docs_of(request)
        passing = document_pb2.DocList()
        for index, doc in enumerate(docs.docs):
            if planned.when(doc):
                passing.docs.append(doc)
            else:
                skipped.append((index, doc))
        if not passing.docs and docs.docs:
            return raw or request.SerializeToString(), request  # nothing for it: skipped
        if skipped:
            sent, raw = with_docs(request, passing), b""
    if graph_request.scoped:
        scoped = scope_parameters(graph_request.parameters or {}, planned.name, graph_request.names)
        raw = with_parameters(sent, with_results(scoped, sent))
    remaining = None if graph_request.deadline is None else max(graph_request.deadline - time.monotonic(), 0.001)
    started = time.perf_counter()
    reply_raw = await send(planned.name, raw or sent.SerializeToString(), remaining, planned.on_path)
    reply = request_pb2.DataRequest.FromString(reply_raw)
    if graph_request.replied is not None:
        code = reply.header.status.code if planned.on_path else request_pb2.Status.CODE_SUCCESS
        graph_request.replied(planned.name, code, started)
    if reply.header.status.code != request_pb2.Status.CODE_SUCCESS:
        raise _Failed(reply_raw)
    if skipped:
        reply = with_docs(reply, _rejoin(docs_of(reply), skipped, len(docs_of(request).docs)))
        reply_raw = reply.SerializeToString()
    return reply_raw, reply


def _rejoin(
    returned: document_pb2.DocList, skipped: Sequence[tuple[int, document_pb2.Doc]], total: int
) -> document_pb2.DocList:
    """The executor's documents with those it did not get put back (see the module docstring)."""
    result = document_pb2.DocList()
    if len(returned.docs) + len(skipped) != total:
        result.docs.extend(returned.docs)
        result.docs.extend(doc for _, doc in skipped)
        return result
    places = dict(skipped)
    own = iter(returned.docs)
    for index in range(total):
        result.docs.append(places[index] if index in places else next(own))
    return result
