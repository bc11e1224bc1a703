"""The OTLP exporter of docwire's spans, with the spans written to protobuf bytes directly.

The SDK's OTLP encoder builds a protobuf message per span, per attribute and per value
(about 60-100 µs a span here, in the exporter's thread of the gateway and of every executor:
as much CPU as making the span). docwire's spans are ``SpanRecord`` tuples of a known shape
(``span_record``), so ``encode_records`` writes each one's fields as bytes, in the order the
messages define them, and takes the resource and scope from the SDK's own encoder once per
scope. SDK spans (``ReadableSpan``) in a batch go through the SDK's encoder; an
``ExportTraceServiceRequest`` is a repeated field, so the two encodings concatenate.
``tests/unit/test_observability.py`` checks both give the same message.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import grpc
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import ReadableSpan

from docwire.observability.span_record import UNIQUE_ATTRIBUTES, SpanRecord, SpanScope, TraceContext, readable_span
from docwire_contract.codec import LENGTH_DELIMITED, VARINT, field_key, varint_bytes

__all__ = ["OtlpSpanExporter", "encode_records"]

_FIXED64, _FIXED32 = 1, 5
#: Span.trace_id and Span.span_id (keys, lengths 16 and 8, the ids big-endian), Span.parent_span_id likewise.
_IDS, _PARENT, _LOW64 = struct.Struct(">BBQQBBQ"), struct.Struct(">BBQ"), (1 << 64) - 1
_TRACE_ID_KEY, _SPAN_ID_KEY, _PARENT_ID_KEY = (field_key(n, LENGTH_DELIMITED)[0] for n in (1, 2, 4))
_TRACE_STATE, _NAME = field_key(3, LENGTH_DELIMITED), field_key(5, LENGTH_DELIMITED)
#: Span.kind (SERVER: 2), then the start and end times (fixed64, little-endian).
_KIND_AND_TIMES, _KIND_KEY, _SERVER = struct.Struct("<BBBQBQ"), field_key(6, VARINT)[0], 2
_START_KEY, _END_KEY = field_key(7, _FIXED64)[0], field_key(8, _FIXED64)[0]
_ATTRIBUTE, _STATUS = field_key(9, LENGTH_DELIMITED), field_key(15, LENGTH_DELIMITED)
_KEY, _VALUE = field_key(1, LENGTH_DELIMITED), field_key(2, LENGTH_DELIMITED)
_STRING_VALUE, _INT_VALUE = field_key(1, LENGTH_DELIMITED), field_key(3, VARINT)
#: Status: unset (an empty message), or ERROR (code 2) with its description.
_STATUS_UNSET = _STATUS + b"\x00"
_STATUS_MESSAGE, _STATUS_ERROR = field_key(2, LENGTH_DELIMITED), field_key(3, VARINT) + b"\x02"
#: Span.flags: the parent's remoteness is known (0x100), and it is remote (0x200: every parent is a caller's).
_FLAGS_KEY = field_key(16, _FIXED32)
_ROOT_FLAGS, _CHILD_FLAGS = _FLAGS_KEY + struct.pack("<I", 0x100), _FLAGS_KEY + struct.pack("<I", 0x300)
_UNSET_ROOT, _UNSET_CHILD = _STATUS_UNSET + _ROOT_FLAGS, _STATUS_UNSET + _CHILD_FLAGS
#: A context for the span ``_envelope`` has the SDK encode for its resource and scope.
_NO_CONTEXT = TraceContext(1, 1, sampled=True)
#: ResourceSpans.resource / ScopeSpans.scope (1), their spans (2), schema_url (3); the request's resource_spans (1).
_FIRST, _SECOND, _THIRD = (field_key(n, LENGTH_DELIMITED) for n in (1, 2, 3))


class OtlpSpanExporter(OTLPSpanExporter):
    """The SDK's OTLP/gRPC span exporter, encoding docwire's span records itself (see the module docstring).

    Its export call takes the request's bytes as they are (``_SerializedTraceService``), so a batch is
    not parsed into messages to be serialized again.
    """

    def _initialize_channel_and_stub(self) -> None:
        self._stub = _SerializedTraceService  # the SDK makes its client of this with each new channel
        super()._initialize_channel_and_stub()  # type: ignore[no-untyped-call]

    def _translate_data(self, data: Sequence[ReadableSpan | SpanRecord]) -> bytes:  # type: ignore[override]
        records = [item for item in data if isinstance(item, SpanRecord)]
        request = encode_records(records)
        if len(records) < len(data):
            spans = [item for item in data if not isinstance(item, SpanRecord)]
            request += encode_spans(spans).SerializeToString()
        return request


class _SerializedTraceService:
    """A TraceService client whose Export sends a serialized ExportTraceServiceRequest."""

    def __init__(self, channel: grpc.Channel) -> None:
        # The generated stub's method name, which the SDK's exporter calls.
        self.Export: grpc.UnaryUnaryMultiCallable[bytes, ExportTraceServiceResponse] = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )


def encode_records(records: Sequence[SpanRecord]) -> bytes:
    """A serialized ExportTraceServiceRequest holding ``records``, as ``encode_spans`` makes it of their SDK spans."""
    by_resource: dict[int, dict[int, list[bytes]]] = {}
    scopes: dict[int, SpanScope] = {}
    for record in records:
        scope = record.scope
        scopes.setdefault(id(scope), scope)
        by_resource.setdefault(id(scope.resource), {}).setdefault(id(scope), []).append(_record_bytes(record))
    request = []
    for by_scope in by_resource.values():
        resource = scopes[next(iter(by_scope))].resource
        parts: list[bytes] = []
        for scope_id, spans in by_scope.items():
            resource_field, scope_field, scope_schema = _envelope(scopes[scope_id])
            if not parts:
                parts.append(resource_field)
            parts.append(_field(_SECOND, b"".join((scope_field, *spans, scope_schema))))
        if resource.schema_url:
            parts.append(_field(_THIRD, resource.schema_url.encode()))
        request.append(_field(_FIRST, b"".join(parts)))
    return b"".join(request)


#: The SDK's encoding of each scope's resource and instrumentation scope, made once.
_ENVELOPES: dict[int, tuple[SpanScope, tuple[bytes, bytes, bytes]]] = {}
#: Each attribute key's KeyValue.key field and each span name's field, written once (the code's few constants).
_KEYS: dict[str, bytes] = {}
_NAMES: dict[str, bytes] = {}
#: Span.attributes fields by (key, value), for the values that repeat (not ``UNIQUE_ATTRIBUTES``).
_ATTRIBUTES: dict[tuple[str, str | int], bytes] = {}
#: The bytes of a string attribute before its value's, by key and the value's length in bytes.
_STRING_PREFIXES: dict[tuple[str, int], bytes] = {}


def _envelope(scope: SpanScope) -> tuple[bytes, bytes, bytes]:
    """``scope``'s ResourceSpans.resource field, its ScopeSpans.scope field and its ScopeSpans.schema_url field."""
    found = _ENVELOPES.get(id(scope))
    if found is not None and found[0] is scope:
        return found[1]
    first = encode_spans([readable_span(SpanRecord(scope, "", _NO_CONTEXT, 0, 0, 0, (), None))]).resource_spans[0]
    schema_url = scope.scope.schema_url
    encoded = (
        _field(_FIRST, first.resource.SerializeToString()),
        _field(_FIRST, first.scope_spans[0].scope.SerializeToString()),
        _field(_THIRD, schema_url.encode()) if schema_url else b"",
    )
    if len(_ENVELOPES) < 64:
        _ENVELOPES[id(scope)] = (scope, encoded)
    return encoded


#: The length prefixes of short fields, looked up rather than computed.
_SHORT = tuple(bytes((n,)) for n in range(128))


def _field(key: bytes, value: bytes) -> bytes:
    size = len(value)
    return key + (_SHORT[size] if size < 128 else varint_bytes(size)) + value


def _cached(cache: dict[str, bytes], key: bytes, text: str) -> bytes:
    found = cache.get(text)
    if found is None:
        found = _field(key, text.encode())
        if len(cache) < 256:
            cache[text] = found
    return found


def _attribute(pair: tuple[str, str | int]) -> bytes:
    """A Span.attributes field: a KeyValue of a string or an integer."""
    key, value = pair
    if isinstance(value, str):
        encoded = value.encode()
        # Everything before the string's bytes depends only on the key and the string's length.
        prefix = _STRING_PREFIXES.get((key, len(encoded)))
        if prefix is None:
            prefix = _field(_ATTRIBUTE, _cached(_KEYS, _KEY, key) + _field(_VALUE, _field(_STRING_VALUE, encoded)))
            prefix = prefix[: len(prefix) - len(encoded)]
            if len(_STRING_PREFIXES) < 1024:
                _STRING_PREFIXES[key, len(encoded)] = prefix
        found = prefix + encoded
    else:
        encoded_value = _INT_VALUE + varint_bytes(value & 0xFFFFFFFFFFFFFFFF)
        found = _field(_ATTRIBUTE, _cached(_KEYS, _KEY, key) + _field(_VALUE, encoded_value))
    if key not in UNIQUE_ATTRIBUTES and len(_ATTRIBUTES) < 1024:  # the executor, endpoints, statuses, ...
        _ATTRIBUTES[pair] = found
    return found


def _record_bytes(record: SpanRecord) -> bytes:
    """One record's Span message, as a ScopeSpans.spans field."""
    context, parent_id = record.context, record.parent_id
    trace_id = context.trace_id
    parts = [_IDS.pack(_TRACE_ID_KEY, 16, trace_id >> 64, trace_id & _LOW64, _SPAN_ID_KEY, 8, context.span_id)]
    if context.trace_state:
        parts.append(_field(_TRACE_STATE, context.trace_state.encode()))
    if parent_id:
        parts.append(_PARENT.pack(_PARENT_ID_KEY, 8, parent_id))
    if record.name:
        parts.append(_cached(_NAMES, _NAME, record.name))
    parts.append(_KIND_AND_TIMES.pack(_KIND_KEY, _SERVER, _START_KEY, record.start_ns, _END_KEY, record.end_ns))
    for pair in record.attributes:
        found = _ATTRIBUTES.get(pair)
        parts.append(_attribute(pair) if found is None else found)
    if record.error is None:
        parts.append(_UNSET_CHILD if parent_id else _UNSET_ROOT)
    else:
        message = _field(_STATUS_MESSAGE, record.error.encode()) if record.error else b""
        parts += (_field(_STATUS, message + _STATUS_ERROR), _CHILD_FLAGS if parent_id else _ROOT_FLAGS)
    span = b"".join(parts)
    size = len(span)
    return _SECOND + (_SHORT[size] if size < 128 else varint_bytes(size)) + span
