"""docwire's document messages (``docwire.v1.Doc``) to docarray v1 documents (``DocumentProto``).

What clip_client (docarray 0.21) reads back: the id (it matches replies to what it sent by id),
``embedding`` and ``tensor`` with ``cls_name: "numpy"`` (docarray v1 decodes an array without a
``cls_name`` as None), ``matches`` and ``chunks`` recursively, ``scores`` as ``NamedScoreProto``
values, ``tags`` as a ``Struct``. Nodes docwire's ``Document`` does not declare are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from google.protobuf import struct_pb2

from docwire_contract.legacy._fields import float_field, message_field, text_field
from docwire_contract.legacy._numbers import (
    ARRAY_CLS_NAME,
    ARRAY_DENSE,
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
__all__ = ["doc_list_to_legacy", "doc_to_legacy"]

_NUMPY = text_field(ARRAY_CLS_NAME, "numpy")


def doc_list_to_legacy(docs: Iterable[document_pb2.Doc]) -> bytes:
    """Documents as a serialized docarray v1 ``DocumentArrayProto``."""
    return b"".join(message_field(DOCS, doc_to_legacy(doc)) for doc in docs)


def doc_to_legacy(doc: document_pb2.Doc) -> bytes:
    """One document as a serialized docarray v1 ``DocumentProto`` (fields in number order)."""
    nodes = doc.data
    out = bytearray()
    for number, name in ((DOC_ID, "id"), (DOC_BLOB, "blob"), (DOC_TENSOR, "tensor"), (DOC_TEXT, "text")):
        if name in nodes:
            out += _field(number, nodes[name])
    uri = _text(nodes, "uri") or _text(nodes, "url")
    if uri:
        out += text_field(DOC_URI, uri)
    for number, name in ((DOC_CHUNKS, "chunks"), (DOC_MATCHES, "matches")):
        if name in nodes and nodes[name].HasField("doc_array"):
            out += b"".join(message_field(number, doc_to_legacy(child)) for child in nodes[name].doc_array.docs)
    if "embedding" in nodes:
        out += _field(DOC_EMBEDDING, nodes["embedding"])
    if "tags" in nodes and nodes["tags"].HasField("dict") and nodes["tags"].dict.data:
        out += message_field(DOC_TAGS, _struct(nodes["tags"].dict).SerializeToString())
    if "scores" in nodes and nodes["scores"].HasField("dict"):
        for name, node in nodes["scores"].dict.data.items():
            score = _number(node)
            if score is not None:
                entry = text_field(MAP_KEY, name) + message_field(MAP_VALUE, float_field(SCORE_VALUE, score))
                out += message_field(DOC_SCORES, entry)
    return bytes(out)


def _text(nodes: Mapping[str, document_pb2.Node], name: str) -> str:
    # `in` first: indexing a protobuf map adds the key.
    return nodes[name].text if name in nodes and nodes[name].HasField("text") else ""


def _field(number: int, node: document_pb2.Node) -> bytes:
    """A text, bytes or array node as its v1 field; an empty (None) node as nothing."""
    kind = node.WhichOneof("content")
    if kind == "text" and node.text:
        return text_field(number, node.text)
    if kind == "blob" and node.blob:
        return message_field(number, node.blob)
    if kind == "ndarray":
        dense = node.ndarray.dense.SerializeToString()
        return message_field(number, message_field(ARRAY_DENSE, dense) + _NUMPY)
    return b""


def _number(node: document_pb2.Node) -> float | None:
    """A score's value: a number, or the ``value`` of a dict holding one (a v1 NamedScore as JSON)."""
    kind = node.WhichOneof("content")
    if kind == "float":
        return node.float
    if kind == "integer":
        return float(node.integer)
    if kind == "dict" and "value" in node.dict.data:
        return _number(node.dict.data["value"])
    return None


def _struct(nodes: document_pb2.DictOfAny) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    for key, node in nodes.data.items():
        _value_from_node(node, struct.fields[key])
    return struct


def _value_from_node(node: document_pb2.Node, value: struct_pb2.Value) -> None:
    """A node as the JSON value v1's ``tags`` hold; what JSON cannot hold (bytes, arrays, documents) is null."""
    kind = node.WhichOneof("content")
    if kind == "text":
        value.string_value = node.text
    elif kind in ("float", "integer"):
        value.number_value = node.float if kind == "float" else node.integer
    elif kind == "boolean":
        value.bool_value = node.boolean
    elif kind == "dict":
        value.struct_value.CopyFrom(_struct(node.dict))
    elif kind in ("list", "set", "tuple"):
        items = getattr(node, kind).data
        value.list_value.SetInParent()
        for item in items:
            _value_from_node(item, value.list_value.values.add())
    else:
        value.null_value = struct_pb2.NULL_VALUE
