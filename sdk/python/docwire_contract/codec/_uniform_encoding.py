"""Encoding document lists (``encode_docs``), a uniform batch at a time where the documents allow.

Documents of one class whose fields hold values of one size each are written in a few
numpy calls through :mod:`docwire_contract.codec._batch_layout`, to the bytes protobuf would write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from math import prod
from operator import attrgetter
from typing import Any, Final

import numpy as np
from docarray import BaseDoc
from docarray.typing import ID

from docwire_contract.codec import _batch_layout as batch_layout
from docwire_contract.codec._encoding import (
    ENCODERS,
    FAST_ENCODE,
    TENSOR_ENCODERS,
    encode_doc_into,
    encode_failure,
    encodes_fast,
    resolve_encoder,
)
from docwire_contract.codec._problems import FieldError
from docwire_contract.codec._wire import WIRE_CACHE_LIMIT, varint_bytes
from docwire_contract.v1 import document_pb2

# The names this module offers the codec's other modules (its internal interface).
__all__ = ["UNIFORM_MIN_DOCS", "encode_docs"]

#: Below this many documents a batch is encoded and decoded one document at a time.
UNIFORM_MIN_DOCS: Final = 8

_DICT_OF: Final = attrgetter("__dict__")
_EXTRA_OF: Final = attrgetter("__pydantic_extra__")
_DTYPE_OF: Final = attrgetter("dtype")
_SHAPE_OF: Final = attrgetter("shape")


# What one field of a uniform batch holds, for encoding: the same in every document.
_NONE: Final = "none"  # None everywhere: an empty node
_EMPTY: Final = "empty"  # an empty dict (or list) everywhere
# and, named after the node content they are written as (batch_layout.TEXT, FLOAT, NDARRAY):
# str (or ID) values of one length, ASCII; floats; numpy tensors of one class, dtype and shape.


def _uniform_columns(
    dicts: list[dict[str, Any]], first: dict[str, Any]
) -> tuple[tuple[Any, ...], list[tuple[str, str, Any]]] | None:
    """Per field, what every document holds, if it is the same kind of value of the same size.

    Returns the batch's signature (what determines the record's layout) and, per field,
    ``(name, kind, data)``: the joined text, the floats, or ``(dtype, shape, arrays)``.
    """
    signature: list[Any] = []
    columns: list[tuple[str, str, Any]] = []
    for name, value in first.items():
        if name[:1] == "_":
            continue
        try:
            column = [d[name] for d in dicts]
        except KeyError:
            return None
        kind = type(value)
        if len(set(map(type, column))) != 1:  # types, not values: == on an array is elementwise
            return None
        if value is None:
            signature.append((name, _NONE))
            continue
        if kind is dict or kind is list:
            if any(column):
                return None
            signature.append((name, _EMPTY, kind))
        elif kind is str or kind is ID:
            joined = "".join(column)
            if not joined.isascii() or set(map(len, column)) != {len(value)}:
                return None
            signature.append((name, batch_layout.TEXT, kind, len(value)))
            columns.append((name, batch_layout.TEXT, joined.encode("ascii")))
        elif kind is float:
            signature.append((name, batch_layout.FLOAT))
            columns.append((name, batch_layout.FLOAT, column))
        elif (ENCODERS.get(id(kind)) or resolve_encoder(kind)) in TENSOR_ENCODERS:
            dtype, shape = value.dtype, value.shape
            if (
                dtype.hasobject
                or value.size == 0
                or set(map(_DTYPE_OF, column)) != {dtype}
                or set(map(_SHAPE_OF, column)) != {shape}
            ):
                return None
            signature.append((name, batch_layout.NDARRAY, kind, dtype, shape))
            columns.append((name, batch_layout.NDARRAY, (dtype, shape, column)))
        else:
            return None
    return tuple(signature), columns


# Per batch signature: the layout of its records and where each field's payload lies.
_UniformEncoding = tuple[batch_layout.Layout, dict[str, tuple[int, int]]]
_UNIFORM_ENCODINGS: dict[tuple[Any, ...], _UniformEncoding] = {}


def _uniform_encoding(signature: tuple[Any, ...], record: bytes) -> _UniformEncoding | None:
    """The layout of ``record`` (the batch's first document), checked against what the batch holds."""
    cached = _UNIFORM_ENCODINGS.get(signature)
    if cached is not None:
        layout = cached[0]
        # Map entries come in the order protobuf writes them: use the cached layout only
        # when this record has its constant bytes exactly.
        if len(record) == layout.record_size and bool(
            (np.frombuffer(record, dtype=np.uint8)[layout.constant_columns] == layout.constants).all()
        ):
            return cached
    layout_read = batch_layout.read_layout(record)
    if layout_read is None or layout_read.record_size != len(record):
        return None
    expected = {item[0]: item for item in signature[1:]}
    payloads: dict[str, tuple[int, int]] = {}
    for node in layout_read.nodes:
        item = expected.pop(node.key, None)
        if item is None:
            return None
        kind = item[1]
        content = node.content
        if kind == _NONE:
            fits = content is None and node.type_name is None
        elif kind == _EMPTY:
            fits = content == (batch_layout.DICT if item[2] is dict else batch_layout.LIST)
        elif kind == batch_layout.TEXT:
            fits = content == batch_layout.TEXT and node.payload is not None
        elif kind == batch_layout.FLOAT:
            fits = content == batch_layout.FLOAT
        else:
            fits = content == batch_layout.NDARRAY
        if not fits:
            return None
        if node.payload is not None:
            payloads[node.key] = node.payload
    if expected:
        return None
    encoding = (layout_read, payloads)
    if len(_UNIFORM_ENCODINGS) < WIRE_CACHE_LIMIT:
        _UNIFORM_ENCODINGS[signature] = encoding
    return encoding


def encode_uniform(docs: list[Any], head: Callable[[int], bytes] | None = None) -> bytes | None:
    """A batch of documents of one class whose fields have one size each, in a few numpy calls.

    Returns None (the caller encodes document by document) for anything else: documents
    of several classes, extra fields, texts of different lengths, tensors of different
    shapes, value kinds other than None, str, ID, float, numpy tensors and empty
    containers. The first document is encoded by the general path; the others are its
    record with their payloads in place, so the bytes are what protobuf would write.
    """
    first = docs[0]
    cls = type(first)
    fast = FAST_ENCODE.get(cls)
    if fast is None:
        fast = encodes_fast(cls)
    if not fast or len(set(map(type, docs))) != 1 or any(map(_EXTRA_OF, docs)):
        return None
    dicts = list(map(_DICT_OF, docs))
    if len(set(map(len, dicts))) != 1:
        return None
    found = _uniform_columns(dicts, dicts[0])
    if found is None:
        return None
    signature, columns = found
    message = document_pb2.Doc()
    try:
        encode_doc_into(first, message)
    except (FieldError, RecursionError):
        return None  # the general path raises it, naming the document
    row = message.SerializeToString()
    record = b"\n" + varint_bytes(len(row)) + row
    encoding = _uniform_encoding((cls, *signature), record)
    if encoding is None:
        return None
    layout, payloads = encoding
    texts: list[tuple[tuple[int, int], bytes]] = []
    floats: list[tuple[tuple[int, int], list[float]]] = []
    tensors: list[tuple[tuple[int, int], Any, tuple[int, ...], list[Any]]] = []
    for name, kind, data in columns:
        where = payloads[name]
        if kind == batch_layout.TEXT:
            texts.append((where, data))
        elif kind == batch_layout.FLOAT:
            floats.append((where, data))
        else:
            dtype, shape, arrays = data
            if where[1] - where[0] != dtype.itemsize * prod(shape):
                return None
            tensors.append((where, dtype, shape, arrays))
    before = head(len(docs) * layout.record_size) if head is not None else b""
    return batch_layout.build(record, layout, len(docs), texts, floats, tensors, before)


def encode_docs(docs: Iterable[BaseDoc], head: Callable[[int], bytes] | None = None) -> bytes:
    """Encode documents as a serialized ``docwire.v1.DocList`` (docarray's ``DocListProto``).

    A list of documents of one class whose fields hold values of one size each (ids,
    embeddings of one shape, None) is written a batch at a time; the bytes are the same.
    ``head``, given the encoded length, returns bytes to put before the documents (an
    envelope whose length prefixes depend on it): the result is then those bytes and the
    documents, written once.

    Raises:
        DocumentSchemaError: a field holds a value the wire cannot carry; the message
            names the document's index and the field.
    """
    if isinstance(docs, list) and len(docs) >= UNIFORM_MIN_DOCS:
        encoded = encode_uniform(docs, head)
        if encoded is not None:
            return encoded
    message = document_pb2.DocList()
    add = message.docs.add
    for index, doc in enumerate(docs):
        try:
            encode_doc_into(doc, add())
        except (FieldError, RecursionError) as exc:
            raise encode_failure(exc, index) from None
    encoded = message.SerializeToString()
    return head(len(encoded)) + encoded if head is not None else encoded
