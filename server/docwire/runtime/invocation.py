"""How the worker calls an endpoint method: within the replica's concurrency limit, batched or alone.

Without ``max_concurrency`` (the default) nothing waits here: async methods run as many at
once as requests arrive, and sync methods run one at a time, in arrival order, on the
executor's one thread (``SyncRunner``), but for those that cannot do any work, which run
on the event loop (``docwire.executor.inline_calls``). With ``max_concurrency=N`` at most N calls (a batch
counts as one) are in the executor's methods at once, async or sync; the others wait in
arrival order, and one whose deadline passes while waiting is answered ``RequestTimeout``
without running. Endpoints with a ``BatchingPolicy`` go through their ``EndpointBatcher``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from docarray import DocList
from pydantic import BaseModel

from docwire.executor.base import BoundEndpoint, Executor
from docwire.executor.batching import BatchingPolicy, batching_policies
from docwire.executor.dispatch import Outcome, Parameters, run_endpoint, stream_endpoint
from docwire.executor.sync_runner import SyncRunner
from docwire.runtime.batching import USER_CODE_FAILURES, BatchKey, EndpointBatcher, MethodFailed
from docwire.runtime.concurrency import ConcurrencyLimit, Deadline
from docwire_contract.doc_types import doclist_of

__all__ = ["EndpointCaller", "MethodFailed"]


class EndpointCaller:
    """Calls one executor's endpoint methods: limited, batched where a policy says so.

    Args:
        executor: the executor instance.
        pool: where its sync methods run.
        max_concurrency: the most method calls in flight at once (None: no bound).
        dynamic_batching: ``uses_dynamic_batching``: endpoint -> policy mapping, over the methods' decorators.

    Raises:
        ValueError: ``max_concurrency`` is below 1, or ``dynamic_batching`` names an unknown or streaming
            endpoint or holds an invalid policy.
    """

    def __init__(
        self,
        executor: Executor,
        pool: SyncRunner,
        *,
        max_concurrency: int | None = None,
        dynamic_batching: Mapping[str, Any] | None = None,
    ) -> None:
        self._executor = executor
        self._pool = pool
        self.limit = ConcurrencyLimit(max_concurrency)
        endpoints = type(executor).endpoints
        self.policies: dict[str, BatchingPolicy] = batching_policies(
            {endpoint: executor.method(bound) for endpoint, bound in endpoints.items()},
            frozenset(endpoint for endpoint, bound in endpoints.items() if bound.signature.is_generator),
            dynamic_batching or {},
        )
        self._batchers = {
            endpoint: EndpointBatcher(
                policy,
                functools.partial(self._call, endpoints[endpoint]),
                self.limit,
                endpoints[endpoint].signature.input_type,
                endpoints[endpoint].signature.output_type,
            )
            for endpoint, policy in self.policies.items()
        }

    def batched(self, bound: BoundEndpoint) -> bool:
        """Whether calls of ``bound`` are grouped (its documents are then always decoded)."""
        return bound.endpoint in self._batchers

    async def run(
        self,
        bound: BoundEndpoint,
        docs: DocList[Any],
        parameters: Parameters,
        metadata: dict[str, str],
        deadline: Deadline,
    ) -> Outcome:
        """What the method made of ``docs``: alone, or as this request's share of a batch.

        Raises:
            RequestTimeout: the deadline passed before the method ran.
            MethodFailed: the method raised (for a batch: while running the batch this request was in).
        """
        batcher = self._batchers.get(bound.endpoint)
        if batcher is not None:
            return await batcher.submit(docs, _batch_key(bound, parameters, metadata), parameters, metadata, deadline)
        async with self.limit.slot(deadline):
            try:
                return await self._call(bound, docs, parameters, metadata)
            except USER_CODE_FAILURES as exc:  # user code
                raise MethodFailed(exc) from exc

    async def _call(
        self, bound: BoundEndpoint, docs: DocList[Any], parameters: Parameters, metadata: dict[str, str]
    ) -> Outcome:
        if not bound.signature.is_generator:
            return await run_endpoint(self._executor, bound, docs, parameters, self._pool, metadata)
        # A generator endpoint called with a batch: every yielded document, in order.
        produced = [
            d
            for doc in docs
            async for d in stream_endpoint(self._executor, bound, doc, parameters, self._pool, metadata)
        ]
        return Outcome(doclist_of(bound.signature.output_type, produced))

    def stream(
        self, bound: BoundEndpoint, doc: Any, parameters: Parameters, metadata: dict[str, str]
    ) -> AsyncIterator[Any]:
        """A generator endpoint's documents for one input document (the caller holds a slot of ``limit``)."""
        return stream_endpoint(self._executor, bound, doc, parameters, self._pool, metadata)

    async def close(self) -> None:
        """Runs the batches still open and waits for them."""
        for batcher in self._batchers.values():
            await batcher.close()


def _batch_key(bound: BoundEndpoint, parameters: Parameters, metadata: Mapping[str, str]) -> BatchKey:
    """Equal for requests that may share a call: same parameters, and same metadata if the method sees it."""
    values = parameters.model_dump(mode="json") if isinstance(parameters, BaseModel) else dict(parameters)
    accepted = bound.signature.accepted
    sees_metadata = accepted is None or "metadata" in accepted
    return (
        json.dumps(values, sort_keys=True, default=repr),
        tuple(sorted(metadata.items())) if sees_metadata else (),
    )
