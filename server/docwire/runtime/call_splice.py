"""A ProcessCall read around its documents: the request's head parsed, the documents left where they are.

A ProcessStream call carries a 214 kB request whose bulk is ``data.docs_bytes``. Parsing the
call copies those bytes into a message, reading ``docs_bytes`` copies them into a Python
``bytes``, serializing the reply copies them again and wrapping it in a ProcessResult once
more: four copies of the documents where a relay makes none. Here the call's top-level keys
are read (``docwire_contract.framing``), the request is parsed without its ``data`` field,
and the documents stay a view into the received bytes; the result is then written as the
reply's head, ``data`` by hand, and the documents, joined once.

Only the shape docwire's gateway and clients send is read this way: one ``request`` whose
``data`` holds ``docs_bytes`` alone (and the call's own trace context, when it has one).
Anything else (documents as a ``DocList`` message, a field repeated, bytes that do not
parse) is left to the whole-message path, which answers or refuses it as it always did.
``data`` is DataRequest's last field, so a reply written as its other fields followed by
``data`` has the bytes protobuf would write for the whole.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from google.protobuf.message import DecodeError

from docwire_contract.codec import LENGTH_DELIMITED, VARINT, field_key, varint_bytes
from docwire_contract.framing import spans
from docwire_contract.v1 import executor_pb2, request_pb2

__all__ = ["SplicedCall", "data_pieces", "spliced_call"]

_SEQUENCE: Final = executor_pb2.ProcessCall.SEQUENCE_FIELD_NUMBER
_REQUEST: Final = executor_pb2.ProcessCall.REQUEST_FIELD_NUMBER
_TRACEPARENT: Final = executor_pb2.ProcessCall.TRACEPARENT_FIELD_NUMBER
_TRACESTATE: Final = executor_pb2.ProcessCall.TRACESTATE_FIELD_NUMBER
_DATA: Final = request_pb2.DataRequest.DATA_FIELD_NUMBER
_DOCS_BYTES: Final = request_pb2.DataContent.DOCS_BYTES_FIELD_NUMBER
_DATA_TAG: Final = field_key(_DATA, LENGTH_DELIMITED)
_DOCS_BYTES_TAG: Final = field_key(_DOCS_BYTES, LENGTH_DELIMITED)


class SplicedCall(NamedTuple):
    """A ProcessCall's sequence, its request without ``data``, the request's ``docs_bytes`` (a view), and the
    call's own trace context (empty when it has none)."""

    sequence: int
    head: request_pb2.DataRequest
    docs: memoryview
    traceparent: str = ""
    tracestate: str = ""


def spliced_call(raw: bytes) -> SplicedCall | None:
    """``raw`` read around its documents, or None when it is not of the one shape read here (see above)."""
    try:
        found = spans(raw)
        sequence = 0
        requests = []
        trace = {_TRACEPARENT: "", _TRACESTATE: ""}
        for span in found:
            if span.number == _SEQUENCE and span.wire_type == VARINT:
                sequence = span.varint
            elif span.number == _REQUEST:
                requests.append(span)
            elif span.number in trace:
                if span.wire_type != LENGTH_DELIMITED:
                    return None
                trace[span.number] = str(raw[span.value : span.end], "utf-8")  # the last one wins, as in a parse
        if len(requests) != 1 or requests[0].wire_type != LENGTH_DELIMITED:
            return None
        request = memoryview(raw)[requests[0].value : requests[0].end]
        fields = spans(request)
        data = [span for span in fields if span.number == _DATA]
        if len(data) != 1 or data[0].wire_type != LENGTH_DELIMITED:
            return None
        content = request[data[0].value : data[0].end]
        inside = spans(content)
        if len(inside) != 1 or inside[0].number != _DOCS_BYTES or inside[0].wire_type != LENGTH_DELIMITED:
            return None
        around = b"".join(request[span.start : span.end] for span in fields if span is not data[0])
        head = request_pb2.DataRequest.FromString(around)
    except (ValueError, DecodeError):  # UnicodeDecodeError included
        return None
    docs = content[inside[0].value : inside[0].end]
    return SplicedCall(sequence, head, docs, trace[_TRACEPARENT], trace[_TRACESTATE])


def data_pieces(docs: bytes | memoryview) -> tuple[bytes, bytes | memoryview]:
    """A DataRequest's ``data`` field holding ``docs`` as ``docs_bytes``: its key and lengths, then ``docs``."""
    content = _DOCS_BYTES_TAG + varint_bytes(len(docs))
    return _DATA_TAG + varint_bytes(len(content) + len(docs)) + content, docs
