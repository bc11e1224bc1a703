"""An executor replica's observer: Prometheus metrics and a span per request (see ``observer.ExecutorObserver``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from docwire.observability.doc_count import count_docs
from docwire.observability.metrics import ExecutorMetrics
from docwire.observability.observer import ExecutorObserver, Metadata
from docwire.observability.tracing import parent_context
from docwire_contract.conventions import DEFAULT_ENDPOINT, normalize_endpoint
from docwire_contract.errors import DocwireError
from docwire_contract.v1 import request_pb2

__all__ = ["ObservedExecutor"]


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
        self._tracer = None if tracer_provider is None else tracer_provider.get_tracer("docwire.executor")
        self._stop_metrics = stop_metrics

    async def observe(
        self, request: request_pb2.DataRequest, metadata: Metadata, process: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        header = request.header
        endpoint = normalize_endpoint(header.exec_endpoint) if header.HasField("exec_endpoint") else DEFAULT_ENDPOINT
        documents = count_docs(request)  # before: the endpoint may replace them
        span = None
        if self._tracer is not None:
            span = self._tracer.start_span(
                f"{self._executor} {endpoint}",
                context=parent_context(metadata),
                kind=trace.SpanKind.SERVER,
                attributes={
                    "docwire.executor": self._executor,
                    "docwire.replica": self._replica,
                    "docwire.endpoint": endpoint,
                    "docwire.request_id": header.request_id,
                    "docwire.documents": documents,
                },
            )
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
            self._record(endpoint, documents, error, time.perf_counter() - start, span)

    def _record(
        self, endpoint: str, documents: int, error: str | None, elapsed: float, span: trace.Span | None
    ) -> None:
        status = "SUCCESS" if error is None else "CANCELLED" if error == "Cancelled" else "ERROR"
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
        if span is not None:
            span.set_attribute("docwire.status", status)
            if error is not None:
                span.set_status(trace.StatusCode.ERROR, error)
            span.end()

    def close(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()
        if self._stop_metrics is not None:
            self._stop_metrics()
