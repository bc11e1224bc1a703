"""docarray v1 documents (``DocumentProto``) to docwire's document messages (``docwire.v1.Doc``).

The nodes written are those docwire's ``Document`` (docarray's ``LegacyDocument`` plus ``uri``)
declares, typed as docwire's own encoder types them, so any executor taking ``Document`` decodes
them as if a docwire client had sent them. v1 fields with no counterpart are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf import struct_pb2
from google.protobuf.message import DecodeError

from docwire_contract.errors import BadRequest
from docwire_contract.legacy._fields import FIXED32, LENGTH_DELIMITED, Field, read_fields, unpack_float
from docwire_contract.legacy._numbers import (
    ARRAY_DENSE,
    ARRAY_SPARSE,
    DOC_BLOB,
    DOC_CHUNKS,
    DOC_EMBEDDING,
    DOC_ID,
    DOC_MATCHES,
    DOC_SCORES,
    DOC_TAGS,
    DOC_TENSOR,
    DOC_TEXT,
    DOC_URI,
    DOCS,
    MAP_KEY,
    MAP_VALUE,
    SCORE_VALUE,
)
from docwire_contract.v1 import document_pb2

# The names this module offers the package's other modules (its internal interface).
__all__ = ["doc_from_legacy", "doc_list_from_legacy"]

_TEXT_FIELDS = {DOC_ID: "id", DOC_TEXT: "text", DOC_URI: "uri"}
_ARRAY_FIELDS = {DOC_TENSOR: ("tensor", "ndarray"), DOC_EMBEDDING: ("embedding", "ndarray_embedding")}
_DOC_LIST_FIELDS = {DOC_CHUNKS: "chunks", DOC_MATCHES: "matches"}


def doc_list_from_legacy(data: bytes | memoryview, what: str = "documents") -> document_pb2.DocList:
    """A serialized ``DocumentArrayProto`` as a ``docwire.v1.DocList``.

    Raises:
        BadRequest: the bytes are not docarray v1 documents, or hold a sparse tensor; the
            message names the document by its position.
    """
    out = document_pb2.DocList()
    index = 0
    for number, wire_type, value in read_fields(data, what):
        if number == DOCS and isinstance(value, memoryview):
            out.docs.append(doc_from_legacy(value, f"{what}[{index}]"))
            index += 1
        else:
            raise BadRequest(f"{what}: field {number} (wire type {wire_type}) is not a docarray v1 document")
    return out


def doc_from_legacy(data: bytes | memoryview, what: str = "document") -> document_pb2.Doc:
    """A serialized docarray v1 ``DocumentProto`` as a ``docwire.v1.Doc``.

    Raises:
        BadRequest: see ``doc_list_from_legacy``.
    """
    doc = document_pb2.Doc()
    nodes = doc.data
    for field in read_fields(data, what):
        number, _, value = field
        if not isinstance(value, memoryview):
            continue  # granularity, adjacency, weight, offset: nothing in Document holds them
        if number in _TEXT_FIELDS:
            name = _TEXT_FIELDS[number]
            nodes[name].text = _text(value, f"{what}.{name}")
            if number == DOC_ID:
                nodes[name].type = "id"
        elif number == DOC_BLOB:
            nodes["blob"].blob = bytes(value)
        elif number in _ARRAY_FIELDS:
            name, kind = _ARRAY_FIELDS[number]
            nodes[name].ndarray.dense.CopyFrom(_dense(value, f"{what}.{name}"))
            nodes[name].type = kind
        elif number in _DOC_LIST_FIELDS:
            name = _DOC_LIST_FIELDS[number]
            docs = nodes[name].doc_array.docs
            docs.append(doc_from_legacy(value, f"{what}.{name}[{len(docs)}]"))
        elif number == DOC_TAGS:
            _dict_from_struct(struct_pb2.Struct.FromString(bytes(value)), nodes["tags"].dict)
        elif number == DOC_SCORES:
            _score(value, nodes["scores"].dict, f"{what}.scores")
    return doc


def _text(value: memoryview, what: str) -> str:
    try:
        return str(value, "utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"{what} is not UTF-8 text") from None


def _dense(value: memoryview, what: str) -> document_pb2.DenseNdArray:
    """The dense array of an ``NdArrayProto``: ``DenseNdArrayProto`` is docwire's ``DenseNdArray``
    field for field. ``cls_name`` (numpy, torch, list, ...) says only what the sender held: the
    numbers are numpy's in every case."""
    for number, _, payload in read_fields(value, what):
        if number == ARRAY_SPARSE:
            raise BadRequest(f"{what}: sparse tensors are not supported; send a dense one")
        if number == ARRAY_DENSE and isinstance(payload, memoryview):
            try:
                return document_pb2.DenseNdArray.FromString(bytes(payload))
            except DecodeError:
                raise BadRequest(f"{what}: its dense array is not a valid DenseNdArrayProto") from None
    return document_pb2.DenseNdArray()


def _score(entry: memoryview, scores: document_pb2.DictOfAny, what: str) -> None:
    """One ``map<string, NamedScoreProto>`` entry as a float node (its ``value``; docwire's scores are numbers)."""
    name, value = "", 0.0
    for number, wire_type, payload in read_fields(entry, what):
        if number == MAP_KEY and isinstance(payload, memoryview):
            name = _text(payload, what)
        elif number == MAP_VALUE and isinstance(payload, memoryview):
            value = _score_value(read_fields(payload, f"{what}[{name!r}]"))
        elif wire_type != LENGTH_DELIMITED:
            raise BadRequest(f"{what}: field {number} is not part of a score")
    scores.data[name].float = value


def _score_value(fields: Iterator[Field]) -> float:
    value = 0.0
    for number, wire_type, payload in fields:
        if number == SCORE_VALUE and wire_type == FIXED32 and isinstance(payload, int):
            value = unpack_float(payload)
    return value


def _dict_from_struct(struct: struct_pb2.Struct, out: document_pb2.DictOfAny) -> None:
    for key, value in struct.fields.items():
        _node_from_value(value, out.data[key])


def _node_from_value(value: struct_pb2.Value, node: document_pb2.Node) -> None:
    """A JSON value (what v1's ``tags`` hold) as the node docwire's encoder writes for it."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        node.text = value.string_value
    elif kind == "number_value":
        node.float = value.number_value
    elif kind == "bool_value":
        node.boolean = value.bool_value
    elif kind == "struct_value":
        _dict_from_struct(value.struct_value, node.dict)
    elif kind == "list_value":
        for item in value.list_value.values:
            _node_from_value(item, node.list.data.add())
    else:
        node.Clear()  # null: an empty node, docwire's None
