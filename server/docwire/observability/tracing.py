"""Spans over OTLP/gRPC, and the W3C trace context (``traceparent``) that links them across processes.

The gateway starts a span per request, a child of the client's when the client's call
metadata carries a ``traceparent``, and sends its own ``traceparent`` to every executor it
calls; each executor's span is a child of it. Nothing is made current or global: each
observer holds its own provider and passes contexts explicitly, so an executor's own
OpenTelemetry setup is left alone.

The provider gives the resource, the sampler and the id generator, but spans are not made
through ``Tracer.start_span``: a request's span has a handful of attributes of known types,
known only when it ends, and the tracer's path (contexts, a sampler call, validation of
each attribute under a lock, a span object to update) cost about as much as the request's
own routing. ``SpanRecorder`` decides sampling as the provider's sampler would, draws ids
from the provider's generator, and records the finished span in one call, as a
``SpanRecord`` of plain values: the provider's ``RecordBatcher`` (the SDK's batch processor,
so its thread and its ``OTEL_BSP_*`` settings) takes the records themselves and
``OtlpSpanExporter`` writes them to bytes; any other span processor gets the SDK's span.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceFlags, TraceState

from docwire.observability.observer import Metadata
from docwire.observability.otlp_encoding import OtlpSpanExporter
from docwire.observability.span_record import Attributes, SpanRecord, SpanScope, TraceContext, readable_span
from docwire.observability.spec import ObservabilitySpec

__all__ = [
    "TRACE_CONTEXT_KEYS",
    "RecordBatcher",
    "SpanRecorder",
    "exporter_of",
    "parent_context",
    "tracer_provider",
    "with_trace_context",
    "without_trace_context",
]

#: The W3C trace context's metadata keys: replaced, never passed on as the client sent them.
TRACE_CONTEXT_KEYS = frozenset({"traceparent", "tracestate"})

#: A W3C ``traceparent``: version, trace id, parent span id, flags (the version ff is invalid).
_TRACEPARENT = re.compile(r"(?!ff)([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


def exporter_of(spec: ObservabilitySpec) -> SpanExporter:
    """The OTLP/gRPC exporter to the collector ``spec`` names."""
    endpoint, insecure = spec.traces_endpoint
    return OtlpSpanExporter(endpoint=endpoint, insecure=insecure)


class RecordBatcher(BatchSpanProcessor):
    """The SDK's batch processor, which also takes ``SpanRecord`` tuples for an ``OtlpSpanExporter`` to encode."""

    def emit(self, record: SpanRecord) -> None:
        """Queues ``record`` for the next batch (dropped when the queue is full, as a span is)."""
        # The SDK's batching (queue, thread, OTEL_BSP_* settings) holds any item; the exporter encodes it.
        self._batch_processor.emit(record)  # type: ignore[arg-type]


def tracer_provider(service: str, exporter: SpanExporter) -> TracerProvider:
    """A provider whose spans name ``service`` and go to ``exporter`` in batches, off the event loop."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    batcher = RecordBatcher if isinstance(exporter, OtlpSpanExporter) else BatchSpanProcessor
    provider.add_span_processor(batcher(exporter))
    return provider


def parent_context(metadata: Iterable[tuple[str, str]]) -> TraceContext | None:
    """The caller's span as its metadata names it (W3C ``traceparent``, ``tracestate``), or None (none, or invalid)."""
    traceparent = tracestate = None
    for key, value in metadata:
        if key == "traceparent":
            traceparent = value
        elif key == "tracestate":
            tracestate = value
    if traceparent is None:
        return None
    match = _TRACEPARENT.fullmatch(traceparent.strip())
    if match is None:
        return None
    version, trace_id_hex, span_id_hex, flags, rest = match.groups()
    if version == "00" and rest:
        return None
    trace_id, span_id = int(trace_id_hex, 16), int(span_id_hex, 16)
    if not trace_id or not span_id:
        return None
    state = TraceState.from_header([tracestate]).to_header() if tracestate else ""
    return TraceContext(trace_id, span_id, bool(int(flags, 16) & TraceFlags.SAMPLED), state)


def without_trace_context(metadata: Metadata) -> Metadata:
    """``metadata`` without the caller's ``traceparent`` and ``tracestate``."""
    return tuple(pair for pair in metadata if pair[0] not in TRACE_CONTEXT_KEYS)


def with_trace_context(kept: Metadata, context: TraceContext) -> Metadata:
    """``kept`` (metadata ``without_trace_context``) with the ``traceparent`` (and ``tracestate``) of ``context``."""
    if context.trace_state:
        return (*kept, ("traceparent", context.traceparent), ("tracestate", context.trace_state))
    return (*kept, ("traceparent", context.traceparent))


class SpanRecorder:
    """Starts and records the spans of one process's requests through ``provider`` (see the module docstring)."""

    __slots__ = ("_batcher", "_default_sampling", "_ids", "_processor", "_sampler", "_scope")

    def __init__(self, provider: TracerProvider, scope: str) -> None:
        self._sampler = provider.sampler
        default = sampling.DEFAULT_ON.get_description()  # type: ignore[no-untyped-call]
        self._default_sampling = self._sampler.get_description() == default
        self._ids = provider.id_generator
        self._scope = SpanScope(provider.resource, InstrumentationScope(scope))
        # The provider's processors (all it was given, in one): the SDK keeps them in this attribute.
        self._processor = provider._active_span_processor
        processors = self._processor._span_processors
        only = processors[0] if len(processors) == 1 else None
        self._batcher = only if isinstance(only, RecordBatcher) else None

    def start(self, name: str, parent: TraceContext | None) -> TraceContext:
        """A new span's context: a child of ``parent`` (or a new trace), sampled as the provider's sampler says."""
        trace_id = self._ids.generate_trace_id() if parent is None else parent.trace_id
        if self._default_sampling:  # parent-based, always on at the root
            sampled = parent is None or parent.sampled
        else:
            context = None
            if parent is not None:
                flags = TraceFlags(TraceFlags.SAMPLED if parent.sampled else TraceFlags.DEFAULT)
                remote = SpanContext(parent.trace_id, parent.span_id, is_remote=True, trace_flags=flags)
                context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
            decision = self._sampler.should_sample(context, trace_id, name, trace.SpanKind.SERVER)
            sampled = bool(decision.decision.is_sampled())  # type: ignore[no-untyped-call]
        state = "" if parent is None else parent.trace_state
        return TraceContext(trace_id, self._ids.generate_span_id(), sampled, state)

    def record(
        self,
        name: str,
        context: TraceContext,
        parent: TraceContext | None,
        attributes: Attributes,
        start_ns: int,
        error: str | None,
    ) -> None:
        """Records the span ``context`` that started at ``start_ns`` (``time.time_ns()``) and ends now, if sampled."""
        if not context.sampled:
            return
        parent_id = 0 if parent is None else parent.span_id
        record = SpanRecord(self._scope, name, context, parent_id, start_ns, time.time_ns(), attributes, error)
        if self._batcher is not None:
            self._batcher.emit(record)
        else:
            self._processor.on_end(readable_span(record))
