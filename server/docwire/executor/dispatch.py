"""Calls an endpoint method with the arguments it asks for and reads what it returns.

Return rules (the seeds' Executor API): ``None`` keeps the (possibly mutated)
input documents; documents replace them; a ``dict`` is a result that travels back
in ``parameters['__results__']`` while the documents stay. That dict becomes JSON (a
protobuf ``Struct``): it is converted as pydantic converts values to JSON (dates and UUIDs
to strings, tuples and sets to lists, keys to strings), numpy arrays and numbers to lists
and numbers; a value JSON cannot hold fails the call, named.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from docarray import BaseDoc, DocList
from pydantic import BaseModel

from docwire.executor.base import BoundEndpoint
from docwire.executor.base import Executor as DocwireExecutor
from docwire.executor.inline_calls import runs_inline
from docwire.executor.sync_runner import SyncRunner
from docwire_contract.doc_types import doclist_of
from docwire_contract.json_values import json_object

__all__ = ["Outcome", "Parameters", "run_endpoint", "stream_endpoint"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one endpoint call produced: the reply's documents and an optional result dict."""

    docs: DocList[Any]
    result: dict[str, Any] | None = None


#: What a method receives as ``parameters``: a dict, or the pydantic model it declares.
Parameters = Mapping[str, Any] | BaseModel


def _arguments(
    bound: BoundEndpoint, data: Mapping[str, Any], parameters: Parameters, metadata: Mapping[str, str] | None
) -> dict[str, Any]:
    sig = bound.signature
    params: Any = parameters
    if sig.parameters_model is not None and not isinstance(parameters, sig.parameters_model):
        params = sig.parameters_model.model_validate(parameters)  # a caller that did not validate them first
    offered = {
        "parameters": params,
        "metadata": dict(metadata or {}),  # the client's call headers, e.g. authorization
        "tracing_context": None,
        "docs_matrix": None,
        "docs_map": None,
        **data,
    }
    if sig.accepted is None:
        return offered
    return {k: v for k, v in offered.items() if k in sig.accepted}


def _as_result(returned: Mapping[Any, Any], endpoint: str) -> dict[str, Any]:
    """A returned dict as the JSON it travels as (see the module docstring).

    Raises:
        TypeError: it holds a value JSON cannot hold (the method's failure, reported to its caller).
    """
    return json_object(
        returned, f"the results {endpoint} returns (in parameters['__results__'], tensors go in documents)"
    )


def _as_doclist(value: Any, doc_type: type[BaseDoc]) -> DocList[Any]:
    if isinstance(value, DocList):
        return value
    if isinstance(value, BaseDoc):
        return doclist_of(doc_type, [value])
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping)):
        return doclist_of(doc_type, list(value))
    raise TypeError(
        f"an endpoint must return None, documents or a dict, not {type(value).__name__}",
    )


#: Where sync methods run: a SyncRunner, a concurrent.futures executor, or (None) the loop's default executor.
Pool = SyncRunner | Executor | None


async def _in_thread(pool: Pool, fn: Callable[[], Any]) -> Any:
    if isinstance(pool, SyncRunner):
        return await pool.run(fn)
    return await asyncio.get_running_loop().run_in_executor(pool, fn)


async def _call(method: Callable[..., Any], is_async: bool, kwargs: dict[str, Any], pool: Pool) -> Any:
    if is_async:
        return await method(**kwargs)
    if runs_inline(method):  # cannot block or touch shared state: the thread hop would be all its cost
        return method(**kwargs)
    # Sync user code runs off the event loop so the server keeps answering.
    return await _in_thread(pool, functools.partial(method, **kwargs))


async def run_endpoint(
    executor: DocwireExecutor,
    bound: BoundEndpoint,
    docs: DocList[Any],
    parameters: Parameters,
    pool: Pool = None,
    metadata: Mapping[str, str] | None = None,
) -> Outcome:
    """Runs a batch endpoint (``docs``) or a single-document one (``doc``, once per document).

    Sync methods run on ``pool`` (the event loop's default executor when None). ``parameters`` are
    validated into the model the method declares, if not already (the worker does it first, see
    ``docwire.runtime.parameters``).
    ``metadata`` (the caller's headers) is offered to the method as ``metadata``.
    """
    sig = bound.signature
    method = executor.method(bound)
    if not sig.single_doc:
        returned = await _call(method, sig.is_async, _arguments(bound, {"docs": docs}, parameters, metadata), pool)
        if returned is None:
            return Outcome(docs)
        if isinstance(returned, Mapping):
            return Outcome(docs, _as_result(returned, bound.endpoint))
        return Outcome(_as_doclist(returned, sig.output_type))

    outputs: list[BaseDoc] = []
    result: dict[str, Any] | None = None
    for doc in docs:
        returned = await _call(method, sig.is_async, _arguments(bound, {"doc": doc}, parameters, metadata), pool)
        if isinstance(returned, Mapping):
            result = {**(result or {}), **_as_result(returned, bound.endpoint)}
            outputs.append(doc)
        else:
            outputs.append(doc if returned is None else returned)
    return Outcome(doclist_of(sig.output_type, outputs), result)


async def stream_endpoint(
    executor: DocwireExecutor,
    bound: BoundEndpoint,
    doc: BaseDoc,
    parameters: Parameters,
    pool: Pool = None,
    metadata: Mapping[str, str] | None = None,
) -> AsyncIterator[BaseDoc]:
    """Runs a generator endpoint on one document, yielding each document it produces."""
    method = executor.method(bound)
    produced = method(**_arguments(bound, {"doc": doc, "docs": doclist_of(type(doc), [doc])}, parameters, metadata))
    if bound.signature.is_async:
        async for item in produced:
            yield item
        return
    # A sync generator steps in a worker thread, one item at a time.
    sentinel = object()
    step = functools.partial(next, produced, sentinel)
    while (item := await _in_thread(pool, step)) is not sentinel:
        yield item
