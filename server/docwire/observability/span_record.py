"""A finished span as docwire records it: a tuple of plain values, no SDK span objects.

A request's span at the gateway or an executor has a known shape (server kind, a few
string and integer attributes, no events or links, a remote parent or none), so it is
kept as a ``SpanRecord`` (ints and strings) from its start to its export, where
``otlp_encoding`` writes it to OTLP bytes. ``readable_span`` makes the SDK's
``ReadableSpan`` of one, for span processors other than docwire's own (tests read spans
through the SDK's in-memory exporter that way).
"""

from __future__ import annotations

from typing import NamedTuple

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

__all__ = ["UNIQUE_ATTRIBUTES", "Attributes", "SpanRecord", "SpanScope", "TraceContext", "readable_span"]

#: A span's attributes, in the order they are written.
Attributes = tuple[tuple[str, str | int], ...]
#: The attributes whose value is new in every span (the encoder caches the others' bytes).
UNIQUE_ATTRIBUTES = frozenset({"docwire.request_id"})


class TraceContext(NamedTuple):
    """A span's W3C trace context: what ``traceparent`` and ``tracestate`` carry."""

    trace_id: int
    span_id: int
    sampled: bool
    #: The ``tracestate`` header ("" when there is none).
    trace_state: str = ""

    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent``: version 00, the trace id, the span id, the flags, in lower-case hex."""
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{'01' if self.sampled else '00'}"


class SpanScope:
    """The resource and instrumentation scope a process's spans share."""

    __slots__ = ("resource", "scope")

    def __init__(self, resource: Resource, scope: InstrumentationScope) -> None:
        self.resource = resource
        self.scope = scope


class SpanRecord(NamedTuple):
    """One finished server span."""

    scope: SpanScope
    name: str
    context: TraceContext
    #: The parent's span id (a remote span: the caller's), 0 for a root span.
    parent_id: int
    start_ns: int
    end_ns: int
    attributes: Attributes
    #: The error the span ended with (its status: ERROR, with this description), None when it did not fail.
    error: str | None


def readable_span(record: SpanRecord) -> ReadableSpan:
    """The SDK's span for ``record``."""
    trace = record.context
    flags = TraceFlags(TraceFlags.SAMPLED if trace.sampled else TraceFlags.DEFAULT)
    state = TraceState.from_header([trace.trace_state]) if trace.trace_state else None
    context = SpanContext(trace.trace_id, trace.span_id, is_remote=False, trace_flags=flags, trace_state=state)
    parent = None
    if record.parent_id:
        parent = SpanContext(trace.trace_id, record.parent_id, is_remote=True, trace_flags=flags, trace_state=state)
    return ReadableSpan(
        record.name,
        context=context,
        parent=parent,
        resource=record.scope.resource,
        attributes=dict(record.attributes),
        kind=SpanKind.SERVER,
        status=Status(StatusCode.UNSET) if record.error is None else Status(StatusCode.ERROR, record.error),
        start_time=record.start_ns,
        end_time=record.end_ns,
        instrumentation_scope=record.scope.scope,
    )
