"""An executor replica's observer: Prometheus metrics and a span per request (see ``observer.ExecutorObserver``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from opentelemetry.sdk.trace import TracerProvider

from docwire.observability.doc_count import count_doc_list, count_docs
from docwire.observability.metrics import ExecutorMetrics
from docwire.observability.observer import ExecutorObserver, Metadata
from docwire.observability.span_record import TraceContext
from docwire.observability.tracing import SpanRecorder, parent_context
from docwire_contract.conventions import DEFAULT_ENDPOINT, normalize_endpoint
from docwire_contract.errors import DocwireError
from docwire_contract.v1 import request_pb2

__all__ = ["ObservedExecutor"]

R = TypeVar("R")


class ObservedExecutor(ExecutorObserver):
    """Records each request of replica ``replica`` of ``executor`` in ``metrics`` and as a span, when given."""

    def __init__(
        self,
        executor: str,
        replica: int,
        metrics: ExecutorMetrics | None,
        tracer_provider: TracerProvider | None,
        stop_metrics: Callable[[], None] | None = None,
    ) -> None:
        self._executor = executor
        self._replica = str(replica)
        self._metrics = metrics
        self._provider = tracer_provider
        self._spans = None if tracer_provider is None else SpanRecorder(tracer_provider, "docwire.executor")
        self._stop_metrics = stop_metrics

    async def observe(
        self,
        request: request_pb2.DataRequest,
        metadata: Metadata,
        process: Callable[[], Awaitable[R]],
        docs_bytes: bytes | memoryview | None = None,
    ) -> R:
        header = request.header
        endpoint = normalize_endpoint(header.exec_endpoint) if header.HasField("exec_endpoint") else DEFAULT_ENDPOINT
        # Counted before: the endpoint may replace them.
        documents = count_docs(request) if docs_bytes is None else count_doc_list(docs_bytes)
        span: tuple[TraceContext, TraceContext | None, int] | None = None
        if self._spans is not None:
            parent = parent_context(metadata)
            span = (self._spans.start(f"{self._executor} {endpoint}", parent), parent, time.time_ns())
        if self._metrics is not None:
            self._metrics.series(endpoint)[1].in_flight.inc()
        start = time.perf_counter()
        error: str | None = "Cancelled"
        try:
            reply = await process()
            if header.status.code != request_pb2.Status.CODE_SUCCESS:  # the endpoint raised: its exception's class
                error = header.status.exception.name or "ExecutorError"
            else:
                error = None
            return reply
        except DocwireError as failure:
            error = type(failure).__name__
            raise
        finally:
            self._record(endpoint, documents, error, time.perf_counter() - start)
            if span is not None:
                self._record_span(endpoint, header.request_id, documents, error, span)

    def _record(self, endpoint: str, documents: int, error: str | None, elapsed: float) -> None:
        status = _status(error)
        if self._metrics is not None:
            endpoint, series = self._metrics.series(endpoint)
            series.in_flight.dec()
            series.latency.observe(elapsed)
            series.documents.inc(documents)
            labels = (self._executor, self._replica, endpoint)
            if status == "SUCCESS":
                series.requests_ok.inc()
            else:
                self._metrics.requests.labels(*labels, status).inc()
            if status == "ERROR" and error is not None:
                self._metrics.errors.labels(*labels, error).inc()

    def _record_span(
        self,
        endpoint: str,
        request_id: str,
        documents: int,
        error: str | None,
        span: tuple[TraceContext, TraceContext | None, int],
    ) -> None:
        assert self._spans is not None
        attributes = (
            ("docwire.executor", self._executor),
            ("docwire.replica", self._replica),
            ("docwire.endpoint", endpoint),
            ("docwire.request_id", request_id),
            ("docwire.documents", documents),
            ("docwire.status", _status(error)),
        )
        context, parent, start_ns = span
        self._spans.record(f"{self._executor} {endpoint}", context, parent, attributes, start_ns, error)

    def close(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()
        if self._stop_metrics is not None:
            self._stop_metrics()


def _status(error: str | None) -> str:
    return "SUCCESS" if error is None else "CANCELLED" if error == "Cancelled" else "ERROR"
