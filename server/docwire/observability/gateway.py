"""The gateway's observer: Prometheus metrics and a span per request (see ``observer.GatewayObserver``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from opentelemetry.sdk.trace import TracerProvider

from docwire.observability.doc_count import count_docs
from docwire.observability.metrics import EndpointSeries, GatewayMetrics
from docwire.observability.observer import GatewayObserver, Metadata, RequestObservation
from docwire.observability.span_record import TraceContext
from docwire.observability.tracing import SpanRecorder, parent_context, with_trace_context, without_trace_context
from docwire_contract.conventions import DEFAULT_ENDPOINT, normalize_endpoint
from docwire_contract.errors import DocwireError
from docwire_contract.v1 import request_pb2

__all__ = ["ObservedGateway"]

_SUCCESS = request_pb2.Status.CODE_SUCCESS


class ObservedGateway(GatewayObserver):
    """Records each request in ``metrics`` (when given) and as a span of ``tracer_provider`` (when given)."""

    def __init__(
        self,
        metrics: GatewayMetrics | None,
        tracer_provider: TracerProvider | None,
        stop_metrics: Callable[[], None] | None = None,
    ) -> None:
        self._metrics = metrics
        self._provider = tracer_provider
        self._spans = None if tracer_provider is None else SpanRecorder(tracer_provider, "docwire.gateway")
        self._stop_metrics = stop_metrics
        # The last client metadata seen, without its trace context: a client stream's requests share one.
        self._client_metadata: Metadata = ()
        self._kept_metadata: Metadata = ()

    def request(
        self, request: request_pb2.DataRequest, metadata: Metadata, documents: int | None = None
    ) -> RequestObservation:
        header = request.header
        endpoint = normalize_endpoint(header.exec_endpoint) if header.HasField("exec_endpoint") else DEFAULT_ENDPOINT
        span = None
        if self._spans is not None:
            parent = parent_context(metadata)
            context = self._spans.start(f"gateway {endpoint}", parent)
            span = _Span(self._spans, context, parent, endpoint, header.request_id)
            if metadata is not self._client_metadata:
                self._client_metadata, self._kept_metadata = metadata, without_trace_context(metadata)
            metadata = with_trace_context(self._kept_metadata, context)
        series = None
        if self._metrics is not None:
            endpoint, series = self._metrics.series(endpoint)
            series.in_flight.inc()
            series.documents.inc(count_docs(request) if documents is None else documents)
        return _Observation(self._metrics, series, span, endpoint, metadata)

    def close(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()  # sends the spans still buffered
        if self._stop_metrics is not None:
            self._stop_metrics()


class _Span:
    """The request's span until it ends: recorded by ``finish``."""

    __slots__ = ("context", "endpoint", "parent", "recorder", "request_id", "start_ns")

    def __init__(
        self, recorder: SpanRecorder, context: TraceContext, parent: TraceContext | None, endpoint: str, request_id: str
    ) -> None:
        self.recorder = recorder
        self.context = context
        self.parent = parent
        self.endpoint = endpoint
        self.request_id = request_id
        self.start_ns = time.time_ns()

    def end(self, status: str, error: str | None) -> None:
        attributes = (
            ("docwire.endpoint", self.endpoint),
            ("docwire.request_id", self.request_id),
            ("docwire.status", status),
        )
        self.recorder.record(f"gateway {self.endpoint}", self.context, self.parent, attributes, self.start_ns, error)


class _Observation(RequestObservation):
    __slots__ = (
        "_endpoint",
        "_error",
        "_last_code",
        "_mark",
        "_metadata",
        "_metrics",
        "_replied",
        "_series",
        "_span",
        "_start",
    )

    def __init__(
        self,
        metrics: GatewayMetrics | None,
        series: EndpointSeries | None,
        span: _Span | None,
        endpoint: str,
        metadata: Metadata,
    ) -> None:
        self._metrics = metrics
        self._series = series
        self._span = span
        self._endpoint = endpoint
        self._metadata = metadata
        self._start = self._mark = time.perf_counter()
        self._last_code: request_pb2.Status.Code.ValueType = _SUCCESS
        self._error: str | None = None
        self._replied = False

    @property
    def metadata(self) -> Metadata:
        return self._metadata

    def executor_replied(
        self, executor: str, code: request_pb2.Status.Code.ValueType, started: float | None = None
    ) -> None:
        now = time.perf_counter()
        if self._metrics is not None:
            self._metrics.executor_call(self._endpoint, executor).observe(
                now - (self._mark if started is None else started)
            )
        if started is None:
            self._mark = now
            self._last_code = code
        elif code != _SUCCESS:
            self._last_code = code

    def succeeded(self, reply: bytes) -> bytes:
        self._replied = True
        if self._last_code != _SUCCESS:
            self._error = "ExecutorError"  # what the client raises for an error an executor put in its reply
        return reply

    def failed(self, error: DocwireError) -> None:
        self._error = type(error).__name__

    def finish(self) -> None:
        status = "SUCCESS" if self._error is None else "ERROR"
        error = self._error
        if error is None and not self._replied:
            status, error = "CANCELLED", "Cancelled"
        if self._metrics is not None and self._series is not None:
            self._series.in_flight.dec()
            self._series.latency.observe(time.perf_counter() - self._start)
            if status == "SUCCESS":
                self._series.requests_ok.inc()
            else:
                self._metrics.requests.labels(self._endpoint, status).inc()
            if error is not None and status == "ERROR":
                self._metrics.errors.labels(self._endpoint, error).inc()
        if self._span is not None:
            self._span.end(status, error)
