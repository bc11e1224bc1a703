"""A ProcessStream call read at the top level: the request's head parsed, its documents left as bytes.

The servicer needs a request's header, parameters and routes as a message, and its
documents as one serialized ``DocList``. Parsing the whole ``ProcessCall`` copies the
documents into the message; reading them back (``docs_bytes``) copies them again, and
serializing the reply once more. Here the call's few top-level fields are read
(``docwire_contract.framing``), the head is parsed from everything but ``data``, and the
documents are taken once. The reply is the head serialized, then the request's own
``data`` field when the endpoint left the documents as they were (a pass-through), else
a new one in the request's form. The bytes are protobuf's own either way: ``data`` is
DataRequest's last field.

Anything unusual (``data`` or its documents given twice, other fields in it) is parsed
whole by the caller instead, so its meaning is protobuf's.
"""

from __future__ import annotations

from typing import Final

from docwire_contract.codec import LENGTH_DELIMITED, VARINT
from docwire_contract.framing import data_field, documents_of, spans
from docwire_contract.v1 import executor_pb2, request_pb2

__all__ = ["SplicedDocs", "splice_call"]

_SEQUENCE: Final = executor_pb2.ProcessCall.SEQUENCE_FIELD_NUMBER
_REQUEST: Final = executor_pb2.ProcessCall.REQUEST_FIELD_NUMBER
_DATA: Final = request_pb2.DataRequest.DATA_FIELD_NUMBER
_DOCS: Final = request_pb2.DataContent.DOCS_FIELD_NUMBER
_DOCS_BYTES: Final = request_pb2.DataContent.DOCS_BYTES_FIELD_NUMBER


class SplicedDocs:
    """A request's documents as they came: their form, their serialized DocList, and the reply's ``data`` field."""

    __slots__ = ("form", "record", "serialized")

    def __init__(self, form: str, serialized: memoryview, record: memoryview) -> None:
        self.form = form  # "docs" or "docs_bytes", as ``DataContent.WhichOneof("documents")`` names it
        self.serialized = serialized
        self.record = record  # the request's ``data`` field, key and length included: the reply's, unless replaced

    def replace(self, encoded: bytes) -> None:
        """The reply carries ``encoded`` (a serialized DocList) in the request's form instead."""
        number = _DOCS if self.form == "docs" else _DOCS_BYTES
        self.record = memoryview(data_field(_DATA, data_field(number, encoded)))


def splice_call(raw: bytes) -> tuple[int, request_pb2.DataRequest, SplicedDocs | None] | None:
    """A serialized ProcessCall's sequence, its request's head and its documents (None: it has none).

    None when the call is anything but the plain shape (see the module docstring): the caller
    parses it whole. A malformed message gives None too, so the parser names what is wrong.

    Raises:
        DecodeError: the request's head does not parse.
    """
    try:
        fields = spans(raw)
    except ValueError:
        return None
    requests = [span for span in fields if span.number == _REQUEST and span.wire_type == LENGTH_DELIMITED]
    if len(requests) != 1 or any(
        span.number != _REQUEST and (span.number, span.wire_type) != (_SEQUENCE, VARINT) for span in fields
    ):
        return None
    sequence = next((span.varint for span in fields if span.number == _SEQUENCE), 0)
    request = memoryview(raw)[requests[0].value : requests[0].end]
    found = documents_of(request)
    if found is None:
        try:
            has_data = any(span.number == _DATA for span in spans(request))
        except ValueError:
            return None
        # No documents: the request is small, parsed whole; documents of another shape: the caller's.
        return None if has_data else (sequence, request_pb2.DataRequest.FromString(bytes(request)), None)
    head = request_pb2.DataRequest.FromString(bytes(found.head))
    return sequence, head, SplicedDocs(found.form, found.serialized, found.record)
