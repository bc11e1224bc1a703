"""How many documents a DataRequest carries, read from the wire without decoding them."""

from __future__ import annotations

from docwire_contract.codec._wire import WireFormatError, read_varint
from docwire_contract.framing import spans
from docwire_contract.v1 import request_pb2

__all__ = ["count_doc_list", "count_docs", "count_serialized_docs"]

_DOCS_KEY = 0x0A  # DocList.docs: field 1, length-delimited
_DATA = request_pb2.DataRequest.DATA_FIELD_NUMBER
_DOCS = request_pb2.DataContent.DOCS_FIELD_NUMBER
_DOCS_BYTES = request_pb2.DataContent.DOCS_BYTES_FIELD_NUMBER


def count_docs(request: request_pb2.DataRequest) -> int:
    """The documents in ``request``: structured ones counted, serialized ones (``docs_bytes``) scanned.

    A serialized DocList is a run of ``docs`` fields (tag, length, bytes): the scan reads each
    tag and length and skips the document. Bytes that are not a DocList count as what was
    read before the first thing that is not a ``docs`` field.
    """
    form = request.data.WhichOneof("documents")
    if form == "docs":
        return len(request.data.docs.docs)
    if form != "docs_bytes":
        return 0
    return count_doc_list(request.data.docs_bytes)


def count_serialized_docs(raw: bytes) -> int:
    """The documents in a serialized DataRequest, found field by field: neither the request nor its
    documents are parsed (the gateway's chain path never parses them), and nothing is copied.

    Raises:
        ValueError: ``raw`` or its ``data`` is not a well-formed protobuf message at the top level.
    """
    view = memoryview(raw)
    for field in reversed(spans(view)):  # the last ``data`` wins, as the parser would merge (a oneof's last)
        if field.number == _DATA:
            for form in reversed(spans(view[field.value : field.end])):
                if form.number in (_DOCS, _DOCS_BYTES):
                    start = field.value + form.value
                    return count_doc_list(view[start : field.value + form.end])
            return 0
    return 0


def count_doc_list(raw: bytes | memoryview) -> int:
    """The ``docs`` fields at the top of a serialized DocList (a DataRequest's ``docs_bytes``).

    A batch of documents of one size (what the client's batch encoding usually makes: same
    fields, same tensor shapes) is counted with strided slices, in C: when every stride of
    the bytes starts with the first document's tag and length, that is exactly how they
    parse. Otherwise each document's tag and length are read in turn.
    """
    uniform = _uniform_count(raw)
    if uniform is not None:
        return uniform
    count = position = 0
    end = len(raw)
    while position < end and raw[position] == _DOCS_KEY:
        first = raw[position + 1] if position + 1 < end else 0
        if first < 0x80:  # documents under 128 bytes
            position += 2 + first
        elif position + 2 < end and raw[position + 2] < 0x80:  # under 16 kB
            position += 3 + ((first & 0x7F) | (raw[position + 2] << 7))
        else:
            try:
                length, position = read_varint(raw, position + 1, end)
            except WireFormatError:
                break
            position += length
        if position > end:
            break
        count += 1
    return count


def _uniform_count(raw: bytes | memoryview) -> int | None:
    """How many documents ``raw`` holds if they all have the first one's size, else None."""
    if len(raw) < 2 or raw[0] != _DOCS_KEY:
        return None
    try:
        length, header = read_varint(raw, 1, min(len(raw), 6))  # a document's length: at most 5 bytes
    except WireFormatError:
        return None
    stride = header + length
    count, rest = divmod(len(raw), stride)
    if rest or not count:
        return None
    for offset in range(header):  # the tag and length bytes at the start of every stride
        if raw[offset::stride] != bytes((raw[offset],)) * count:
            return None
    return count
