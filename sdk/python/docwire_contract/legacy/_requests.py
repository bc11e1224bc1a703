"""Requests whose documents are docarray v1's: recognising them, and translating the envelope.

``jina.DataRequestProto`` is ``docwire.v1.DataRequest`` field for field (header = 1, parameters = 2,
routes = 3, data = 4; data.docs = 1, data.docs_bytes = 2) whichever docarray the sender has; only
the documents inside ``data`` differ. So the translation copies every other field's bytes as they
came and rewrites ``data`` alone.
"""

from __future__ import annotations

from docwire_contract.legacy._fields import LENGTH_DELIMITED, message_field, read_fields, write_field
from docwire_contract.legacy._numbers import DOC_ID, DOCS
from docwire_contract.legacy._reading import doc_list_from_legacy
from docwire_contract.legacy._writing import doc_list_to_legacy
from docwire_contract.v1 import document_pb2

# The names this module offers the package's other modules (its internal interface).
__all__ = ["is_legacy_doc_list", "is_legacy_request", "reply_to_legacy", "request_from_legacy", "requests_of_list"]

_DATA = 4  # DataRequest.data
_DATA_DOCS = 1  # DataContent.docs (a DocList / DocumentArrayProto message)
_DATA_DOCS_BYTES = 2  # DataContent.docs_bytes (the same, serialized into a bytes field)
_MAP_ENTRY_KEY = 0x0A  # the first byte of a v2 Doc's map entry: its key, field 1, length-delimited


def is_legacy_doc_list(doc_list: bytes | memoryview) -> bool:
    """Whether serialized documents are docarray v1's ``DocumentArrayProto`` (rather than v2's ``DocList``).

    Both put their documents in field 1. A v2 ``Doc`` holds only field 1, map entries whose first
    byte is their key's tag (``0x0a``); a v1 ``DocumentProto`` starts with its id (field 1, text:
    docarray v1 ids are 32 hex characters) or another field (2-20). So the first field of the first
    document decides, at the cost of reading two varints. A list with no documents, or whose first
    document is empty, reads the same either way and counts as v2.
    """
    for number, _, first_doc in read_fields(doc_list, "documents"):
        if number != DOCS or not isinstance(first_doc, memoryview):
            return False
        for field, wire_type, payload in read_fields(first_doc, "documents[0]"):
            if field != DOC_ID or wire_type != LENGTH_DELIMITED or not isinstance(payload, memoryview):
                return True
            return len(payload) == 0 or payload[0] != _MAP_ENTRY_KEY
        return False
    return False


def is_legacy_request(request: bytes) -> bool:
    """Whether a serialized ``DataRequest`` carries docarray v1 documents (see ``is_legacy_doc_list``)."""
    docs = _documents(request)
    return docs is not None and is_legacy_doc_list(docs)


def request_from_legacy(request: bytes) -> bytes:
    """A ``DataRequest`` whose documents are docarray v1's, with its documents as ``docwire.v1.DocList``.

    The header, parameters and routes are copied byte for byte. A request whose documents are
    already docwire's (or that has none) is returned as it is.

    Raises:
        BadRequest: the documents cannot be read as either format.
    """
    docs = _documents(request)
    if docs is None or not is_legacy_doc_list(docs):
        return request
    return _with_documents(request, doc_list_from_legacy(docs).SerializeToString())


def reply_to_legacy(reply: bytes) -> bytes:
    """A ``DataRequest`` (a reply) with its ``docwire.v1.DocList`` documents as docarray v1's ``DocumentArrayProto``."""
    docs = _documents(reply)
    if docs is None:
        return reply
    return _with_documents(reply, doc_list_to_legacy(document_pb2.DocList.FromString(bytes(docs)).docs))


def requests_of_list(request_list: bytes) -> list[bytes]:
    """The serialized requests of a ``jina.DataRequestList`` (field 1), each as it came.

    Read field by field, not parsed: a request with docarray v1 documents is not a valid
    ``docwire.v1.DataRequest`` until ``request_from_legacy`` has translated it.

    Raises:
        BadRequest: the bytes are not a protobuf message.
    """
    return [
        bytes(value)
        for number, _, value in read_fields(request_list, "the request list")
        if number == 1 and isinstance(value, memoryview)
    ]


def _documents(request: bytes) -> memoryview | None:
    """The serialized document list of a request's ``data`` (from ``docs`` or ``docs_bytes``), if any."""
    found: memoryview | None = None
    for number, _, value in read_fields(request, "the request"):
        if number == _DATA and isinstance(value, memoryview):
            for field, _, payload in read_fields(value, "the request's data"):
                if field in (_DATA_DOCS, _DATA_DOCS_BYTES) and isinstance(payload, memoryview):
                    found = payload
    return found


def _with_documents(request: bytes, docs: bytes) -> bytes:
    """``request`` with ``data`` replaced by ``data.docs = docs``; its other fields written back as they came."""
    out = bytearray()
    for number, wire_type, value in read_fields(request, "the request"):
        if number != _DATA:
            out += write_field(number, wire_type, value)
    out += message_field(_DATA, message_field(_DATA_DOCS, docs))
    return bytes(out)
