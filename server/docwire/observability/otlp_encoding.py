"""The OTLP exporter of docwire's spans, with the spans written to protobuf bytes directly.

The SDK's OTLP encoder builds a protobuf message per span, per attribute and per value
(about 60-100 µs a span here, in the exporter's thread of the gateway and of every executor:
as much CPU as making the span). docwire's spans are simple (a few string and integer
attributes, no events, no links), so ``OtlpSpanExporter`` writes each one's fields as bytes,
in the order the messages define them, and takes the resource and scope from the SDK's own
encoder once per batch. A batch holding anything else goes through the SDK's encoder whole.
``tests/unit/test_observability.py`` checks both give the same message.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind

from docwire_contract.codec import LENGTH_DELIMITED, VARINT, field_key, varint_bytes

__all__ = ["OtlpSpanExporter", "encode_request"]

_FIXED64, _FIXED32 = 1, 5
_KIND = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}
#: Span.flags: the span's parent's remoteness is known (0x100), and it is remote (0x200).
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200

_TRACE_ID, _SPAN_ID, _TRACE_STATE, _PARENT_ID, _NAME = (field_key(n, LENGTH_DELIMITED) for n in (1, 2, 3, 4, 5))
_KIND_KEY = field_key(6, VARINT)
_START, _END = field_key(7, _FIXED64), field_key(8, _FIXED64)
_ATTRIBUTE, _STATUS, _FLAGS = field_key(9, LENGTH_DELIMITED), field_key(15, LENGTH_DELIMITED), field_key(16, _FIXED32)
_KEY, _VALUE = field_key(1, LENGTH_DELIMITED), field_key(2, LENGTH_DELIMITED)
_STRING_VALUE, _INT_VALUE = field_key(1, LENGTH_DELIMITED), field_key(3, VARINT)
_STATUS_MESSAGE, _STATUS_CODE = field_key(2, LENGTH_DELIMITED), field_key(3, VARINT)
#: ResourceSpans.resource / ScopeSpans.scope (1), their spans (2), schema_url (3); the request's resource_spans (1).
_FIRST, _SECOND, _THIRD = (field_key(n, LENGTH_DELIMITED) for n in (1, 2, 3))


class OtlpSpanExporter(OTLPSpanExporter):
    """The SDK's OTLP/gRPC span exporter, encoding docwire's spans itself (see the module docstring)."""

    def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        return ExportTraceServiceRequest.FromString(encode_request(data))


def encode_request(spans: Sequence[ReadableSpan]) -> bytes:
    """A serialized ExportTraceServiceRequest holding ``spans``, as ``encode_spans`` would make it."""
    groups: dict[tuple[int, int], list[bytes]] = {}
    firsts: dict[tuple[int, int], ReadableSpan] = {}
    for span in spans:
        encoded = _span_bytes(span)
        if encoded is None:
            return bytes(encode_spans(spans).SerializeToString())
        key = (id(span.resource), id(span.instrumentation_scope))
        groups.setdefault(key, []).append(encoded)
        firsts.setdefault(key, span)
    by_resource: dict[int, list[bytes]] = {}
    resources: dict[int, Resource] = {}
    for key, encoded_spans in groups.items():
        first = firsts[key]
        envelope = encode_spans([first]).resource_spans[0]  # the SDK's resource and scope, once per group
        scope: InstrumentationScope | None = first.instrumentation_scope
        scope_spans = _field(_FIRST, envelope.scope_spans[0].scope.SerializeToString())
        scope_spans += b"".join(_field(_SECOND, span) for span in encoded_spans)
        if scope is not None and scope.schema_url:
            scope_spans += _field(_THIRD, scope.schema_url.encode())
        resources[key[0]] = first.resource
        by_resource.setdefault(key[0], [_field(_FIRST, envelope.resource.SerializeToString())]).append(
            _field(_SECOND, scope_spans)
        )
    request = b""
    for resource_id, parts in by_resource.items():
        schema_url = resources[resource_id].schema_url
        if schema_url:
            parts.append(_field(_THIRD, schema_url.encode()))
        request += _field(_FIRST, b"".join(parts))
    return request


#: The length prefixes of short fields, looked up rather than computed.
_SHORT = tuple(bytes((n,)) for n in range(128))
#: Each attribute key's KeyValue.key field, written once (the keys are the code's few constants).
_KEYS: dict[str, bytes] = {}


def _field(key: bytes, value: bytes) -> bytes:
    size = len(value)
    return key + (_SHORT[size] if size < 128 else varint_bytes(size)) + value


def _key_field(key: str) -> bytes:
    found = _KEYS.get(key)
    if found is None:
        found = _field(_KEY, key.encode())
        if len(_KEYS) < 256:
            _KEYS[key] = found
    return found


def _span_bytes(span: ReadableSpan) -> bytes | None:
    """One span's Span message, or None when it has what only the SDK's encoder writes (events, links, ...)."""
    context = span.context
    if context is None or span.events or span.links or span.dropped_attributes:
        return None
    parts = [
        _TRACE_ID + b"\x10" + context.trace_id.to_bytes(16, "big"),
        _SPAN_ID + b"\x08" + context.span_id.to_bytes(8, "big"),
    ]
    if context.trace_state:
        parts.append(_field(_TRACE_STATE, ",".join(f"{k}={v}" for k, v in context.trace_state.items()).encode()))
    parent = span.parent
    if parent is not None:
        parts.append(_PARENT_ID + b"\x08" + parent.span_id.to_bytes(8, "big"))
    if span.name:
        parts.append(_field(_NAME, span.name.encode()))
    parts.append(_KIND_KEY + varint_bytes(_KIND[span.kind]))
    parts.append(_START + struct.pack("<Q", span.start_time or 0))
    parts.append(_END + struct.pack("<Q", span.end_time or 0))
    for key, value in (span.attributes or {}).items():
        if isinstance(value, str):
            encoded_value = _field(_STRING_VALUE, value.encode())
        elif isinstance(value, int) and not isinstance(value, bool):
            encoded_value = _INT_VALUE + varint_bytes(value & 0xFFFFFFFFFFFFFFFF)
        else:
            return None
        parts.append(_field(_ATTRIBUTE, _key_field(key) + _field(_VALUE, encoded_value)))
    status = span.status
    message = _field(_STATUS_MESSAGE, status.description.encode()) if status.description else b""
    code = _STATUS_CODE + varint_bytes(status.status_code.value) if status.status_code.value else b""
    parts.append(_field(_STATUS, message + code))
    flags = _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)
    parts.append(_FLAGS + struct.pack("<I", flags))
    return b"".join(parts)
