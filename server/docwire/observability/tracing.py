"""Spans over OTLP/gRPC, and the W3C trace context (``traceparent``) that links them across processes.

The gateway starts a span per request, a child of the client's when the client's call
metadata carries a ``traceparent``, and sends its own ``traceparent`` to every executor it
calls; each executor's span is a child of it. Nothing is made current or global: each
observer holds its own provider and passes contexts explicitly, so an executor's own
OpenTelemetry setup is left alone.

The spans are the SDK's (``ReadableSpan``, handed to the provider's span processors and its
OTLP exporter) but not made through ``Tracer.start_span``: a request's span has a handful of
attributes of known types, known only when it ends, and the tracer's path (contexts, a
sampler call, validation of each attribute under a lock, a span object to update) cost
about as much as the request's own routing. ``SpanRecorder`` decides sampling as the
provider's sampler would, draws ids from the provider's generator, and records the finished
span in one call.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags, TraceState

from docwire.observability.observer import Metadata
from docwire.observability.otlp_encoding import OtlpSpanExporter
from docwire.observability.spec import ObservabilitySpec

__all__ = [
    "TRACE_CONTEXT_KEYS",
    "SpanRecorder",
    "exporter_of",
    "parent_context",
    "tracer_provider",
    "with_trace_context",
]

#: The W3C trace context's metadata keys: replaced, never passed on as the client sent them.
TRACE_CONTEXT_KEYS = frozenset({"traceparent", "tracestate"})

#: A W3C ``traceparent``: version, trace id, parent span id, flags (the version ff is invalid).
_TRACEPARENT = re.compile(r"(?!ff)([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_UNSET = Status(StatusCode.UNSET)


def exporter_of(spec: ObservabilitySpec) -> SpanExporter:
    """The OTLP/gRPC exporter to the collector ``spec`` names."""
    endpoint, insecure = spec.traces_endpoint
    return OtlpSpanExporter(endpoint=endpoint, insecure=insecure)


def tracer_provider(service: str, exporter: SpanExporter) -> TracerProvider:
    """A provider whose spans name ``service`` and go to ``exporter`` in batches, off the event loop."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def parent_context(metadata: Iterable[tuple[str, str]]) -> SpanContext | None:
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
    if match is None or (match.group(1) == "00" and match.group(5)):
        return None
    trace_id, span_id = int(match.group(2), 16), int(match.group(3), 16)
    if not trace_id or not span_id:
        return None
    state = TraceState.from_header([tracestate]) if tracestate else None
    return SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(match.group(4), 16)), trace_state=state
    )


def with_trace_context(metadata: Metadata, context: SpanContext) -> Metadata:
    """``metadata`` with the ``traceparent`` (and ``tracestate``) of the span ``context`` in place of the caller's."""
    # The W3C format: version 00, the trace id, the span id, the flags, in lower-case hex.
    kept = tuple(pair for pair in metadata if pair[0] not in TRACE_CONTEXT_KEYS)
    traceparent = ("traceparent", f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}")
    if context.trace_state:
        return (*kept, traceparent, ("tracestate", context.trace_state.to_header()))
    return (*kept, traceparent)


class SpanRecorder:
    """Starts and records the spans of one process's requests through ``provider`` (see the module docstring)."""

    __slots__ = ("_default_sampling", "_ids", "_processor", "_resource", "_sampler", "_scope")

    def __init__(self, provider: TracerProvider, scope: str) -> None:
        self._sampler = provider.sampler
        default = sampling.DEFAULT_ON.get_description()  # type: ignore[no-untyped-call]
        self._default_sampling = self._sampler.get_description() == default
        self._ids = provider.id_generator
        self._resource = provider.resource
        self._scope = InstrumentationScope(scope)
        # The provider's processors (all it was given, in one): the SDK keeps them in this attribute.
        self._processor = provider._active_span_processor

    def start(self, name: str, parent: SpanContext | None) -> SpanContext:
        """A new span's context: a child of ``parent`` (or a new trace), sampled as the provider's sampler says."""
        trace_id = self._ids.generate_trace_id() if parent is None else parent.trace_id
        if self._default_sampling:  # parent-based, always on at the root
            sampled = parent is None or parent.trace_flags.sampled
        else:
            context = None if parent is None else trace.set_span_in_context(trace.NonRecordingSpan(parent))
            decision = self._sampler.should_sample(context, trace_id, name, trace.SpanKind.SERVER)
            sampled = bool(decision.decision.is_sampled())  # type: ignore[no-untyped-call]
        return SpanContext(
            trace_id,
            self._ids.generate_span_id(),
            is_remote=False,
            trace_flags=_SAMPLED if sampled else _NOT_SAMPLED,
            trace_state=None if parent is None else parent.trace_state,
        )

    def record(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: Mapping[str, str | int],
        start_ns: int,
        error: str | None,
    ) -> None:
        """Records the span ``context`` that started at ``start_ns`` (``time.time_ns()``) and ends now, if sampled."""
        if not context.trace_flags.sampled:
            return
        span = ReadableSpan(
            name,
            context=context,
            parent=parent,
            resource=self._resource,
            attributes=attributes,
            kind=trace.SpanKind.SERVER,
            status=_UNSET if error is None else Status(StatusCode.ERROR, error),
            start_time=start_ns,
            end_time=time.time_ns(),
            instrumentation_scope=self._scope,
        )
        self._processor.on_end(span)
