"""How many documents a DataRequest carries, read from the wire without decoding them."""

from __future__ import annotations

from docwire_contract.v1 import request_pb2

__all__ = ["count_docs"]

_DOCS_KEY = 0x0A  # DocList.docs: field 1, length-delimited


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
    raw = request.data.docs_bytes
    count = position = 0
    end = len(raw)
    while position < end and raw[position] == _DOCS_KEY:
        position += 1
        length = shift = 0
        while position < end:
            byte = raw[position]
            position += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        position += length
        if position > end:
            break
        count += 1
    return count
