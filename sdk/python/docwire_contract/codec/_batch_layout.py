"""Uniform batches: serialized document lists whose records differ only inside fixed-size payloads.

The documents of one request usually share a schema, and often a shape: every id is a
32-character hex string, every embedding a float32[512]. Their ``DocListProto`` records
then have one length and the same bytes everywhere except inside the payloads (the id's
text, the tensor's buffer). This module finds that out for the wire bytes of a
``docwire.v1.DocList`` (docarray's ``DocListProto``) and hands the payloads over as
columns, so that :mod:`docwire_contract.codec` turns a whole batch into documents (and back)
with a few numpy operations instead of protobuf calls per field and per document.

It knows protobuf, not docarray:

* :func:`match` reads the first record with a strict parser that accepts only what it
  fully understands: map entries key then value, each node with at most one content
  field (``text``, ``float``, ``ndarray`` with a dense buffer, shape and dtype, an empty
  ``dict`` or ``list``, or nothing) and at most one ``type``; anything else (other node
  kinds, unknown or repeated fields, tensor parameters) means "not uniform". It then
  checks that every record has that record's length and the same bytes outside the
  payloads. Tags and lengths are constant bytes, so equal constant bytes mean the same
  structure in every record: the first record's reading holds for all of them.
* :func:`build` writes a batch: the first document's record (serialized by protobuf
  itself) repeated, the payloads of every document put in place.

Layouts are cached by record size (the last one seen for each size, a bounded number
of sizes): a cached layout is used only when the batch's constant bytes equal the ones
it was read from, so a stale entry costs a re-read, never a wrong answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from google.protobuf.descriptor import Descriptor

from docwire_contract.codec._wire import FIXED64, LENGTH_DELIMITED, VARINT, WireFormatError, field_key, read_varint
from docwire_contract.v1 import document_pb2

__all__ = [
    "DICT",
    "FLOAT",
    "LIST",
    "NDARRAY",
    "TEXT",
    "Batch",
    "Layout",
    "NodeShape",
    "build",
    "floats",
    "match",
    "read_layout",
    "texts",
    "texts_valid",
]

#: How many layouts (one per record size) are kept.
_CACHE_LIMIT: Final = 64


def _tag(message: Descriptor, field: str, wire_type: int) -> int:
    """The one-byte key of ``message.field`` with ``wire_type``, read from the generated descriptor."""
    key = field_key(message.fields_by_name[field].number, wire_type)
    assert len(key) == 1, f"{message.name}.{field}: this module reads one-byte keys only"
    return key[0]


_DOC_ENTRY = document_pb2.Doc.DESCRIPTOR.fields_by_name["data"].message_type  # map<string, Node> entry
assert _DOC_ENTRY is not None  # types-protobuf types message_type as Optional (None for scalar fields)
_DENSE = document_pb2.DenseNdArray.DESCRIPTOR
_NODE = document_pb2.Node.DESCRIPTOR

# The keys of every field this module reads or writes by hand.
_DOCS: Final = _tag(document_pb2.DocList.DESCRIPTOR, "docs", LENGTH_DELIMITED)
_DOC_DATA: Final = _tag(document_pb2.Doc.DESCRIPTOR, "data", LENGTH_DELIMITED)
_ENTRY_KEY: Final = _tag(_DOC_ENTRY, "key", LENGTH_DELIMITED)
_ENTRY_VALUE: Final = _tag(_DOC_ENTRY, "value", LENGTH_DELIMITED)
_NODE_TEXT: Final = _tag(_NODE, "text", LENGTH_DELIMITED)
_NODE_FLOAT: Final = _tag(_NODE, "float", FIXED64)
_NODE_NDARRAY: Final = _tag(_NODE, "ndarray", LENGTH_DELIMITED)
_NODE_LIST: Final = _tag(_NODE, "list", LENGTH_DELIMITED)
_NODE_DICT: Final = _tag(_NODE, "dict", LENGTH_DELIMITED)
_NODE_TYPE: Final = _tag(_NODE, "type", LENGTH_DELIMITED)
_NDARRAY_DENSE: Final = _tag(document_pb2.NdArray.DESCRIPTOR, "dense", LENGTH_DELIMITED)
_DENSE_BUFFER: Final = _tag(_DENSE, "buffer", LENGTH_DELIMITED)
_DENSE_SHAPE_PACKED: Final = _tag(_DENSE, "shape", LENGTH_DELIMITED)
_DENSE_SHAPE: Final = _tag(_DENSE, "shape", VARINT)  # a sender may write repeated scalars unpacked
_DENSE_DTYPE: Final = _tag(_DENSE, "dtype", LENGTH_DELIMITED)

#: Node contents this module reads.
TEXT: Final = "text"
FLOAT: Final = "float"
NDARRAY: Final = "ndarray"
DICT: Final = "dict"
LIST: Final = "list"


class _NotUniformError(WireFormatError):
    """The record holds something this module does not read: the caller takes the general path."""


@dataclass(frozen=True, slots=True)
class NodeShape:
    """One map entry of the record: a document field and the node it holds.

    Attributes:
        key: the field's name.
        content: which content field the node sets (``TEXT``, ``FLOAT``, ``NDARRAY``, ``DICT``,
            ``LIST``), None for an empty node.
        type_name: the node's ``type`` (``"id"``, ``"ndarray"``, ...), None when unset.
        payload: where the variable bytes lie in the record (text, the 8 bytes of the float,
            the tensor's buffer), as ``(start, end)``; None for nodes without any.
        dtype: the tensor's dtype string, as sent.
        shape: the tensor's shape.
        node: the node's bytes in the record the layout was read from, for nodes without a
            payload (empty for the others).
    """

    key: str
    content: str | None
    type_name: str | None
    payload: tuple[int, int] | None
    dtype: str | None
    shape: tuple[int, ...] | None
    node: bytes


@dataclass(frozen=True, slots=True)
class Layout:
    """The structure shared by every record of a uniform batch."""

    record_size: int
    nodes: tuple[NodeShape, ...]
    constant_columns: npt.NDArray[np.intp]
    constants: npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Batch:
    """A uniform batch: its layout and its records as a ``(documents, record_size)`` byte matrix."""

    layout: Layout
    rows: npt.NDArray[np.uint8]

    @property
    def size(self) -> int:
        return int(self.rows.shape[0])


# ------------------------------------------------------------------------- reading


_varint = read_varint


def _length_delimited(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """``(start, stop)`` of the field value whose length prefix starts at ``pos``."""
    length, start = _varint(buf, pos, end)
    stop = start + length
    if stop > end:
        raise _NotUniformError
    return start, stop


def _text(buf: bytes, start: int, stop: int) -> str:
    try:
        return buf[start:stop].decode("utf-8")
    except UnicodeDecodeError:
        raise _NotUniformError from None


def _read_dense(buf: bytes, pos: int, end: int) -> tuple[tuple[int, int], str, tuple[int, ...]]:
    """A ``DenseNdArray``: buffer position, dtype and shape."""
    buffer: tuple[int, int] | None = None
    dtype: str | None = None
    shape: list[int] = []
    while pos < end:
        tag = buf[pos]
        pos += 1
        if tag == _DENSE_BUFFER and buffer is None:
            buffer = _length_delimited(buf, pos, end)
            pos = buffer[1]
        elif tag == _DENSE_SHAPE_PACKED:
            start, stop = _length_delimited(buf, pos, end)
            while start < stop:
                dim, start = _varint(buf, start, stop)
                shape.append(dim)
            pos = stop
        elif tag == _DENSE_SHAPE:
            dim, pos = _varint(buf, pos, end)
            shape.append(dim)
        elif tag == _DENSE_DTYPE and dtype is None:
            start, pos = _length_delimited(buf, pos, end)
            dtype = _text(buf, start, pos)
        else:
            raise _NotUniformError
    if buffer is None or dtype is None or buffer[0] == buffer[1]:
        raise _NotUniformError  # tensors without data take the general path
    return buffer, dtype, tuple(shape)


def _read_node(buf: bytes, key: str, pos: int, end: int) -> NodeShape:
    node_start = pos
    content: str | None = None
    type_name: str | None = None
    payload: tuple[int, int] | None = None
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    while pos < end:
        tag = buf[pos]
        pos += 1
        if tag == _NODE_TYPE and type_name is None:
            start, pos = _length_delimited(buf, pos, end)
            type_name = _text(buf, start, pos)
            continue
        if content is not None:  # a second content field: oneof semantics, not ours to judge
            raise _NotUniformError
        if tag == _NODE_TEXT:
            content = TEXT
            payload = _length_delimited(buf, pos, end)
            pos = payload[1]
        elif tag == _NODE_FLOAT:
            content = FLOAT
            payload = (pos, pos + 8)
            pos += 8
            if pos > end:
                raise _NotUniformError
        elif tag == _NODE_NDARRAY:
            content = NDARRAY
            start, pos = _length_delimited(buf, pos, end)
            if start == pos or buf[start] != _NDARRAY_DENSE:
                raise _NotUniformError  # no dense array, or tensor parameters
            dense_start, dense_end = _length_delimited(buf, start + 1, pos)
            if dense_end != pos:
                raise _NotUniformError
            payload, dtype, shape = _read_dense(buf, dense_start, dense_end)
        elif tag in (_NODE_DICT, _NODE_LIST):
            content = DICT if tag == _NODE_DICT else LIST
            start, pos = _length_delimited(buf, pos, end)
            if start != pos:
                raise _NotUniformError  # only empty containers
        else:
            raise _NotUniformError
    # Only payload-free nodes keep their bytes (decoded once per batch); a tensor's would pin its data.
    node = bytes(buf[node_start:end]) if payload is None else b""
    return NodeShape(key, content, type_name, payload, dtype, shape, node)


def _read_record(buf: bytes) -> tuple[int, tuple[NodeShape, ...]]:
    """The first record of a serialized DocList: its size and its nodes."""
    if not buf or buf[0] != _DOCS:
        raise _NotUniformError
    pos, size = _length_delimited(buf, 1, len(buf))
    nodes: list[NodeShape] = []
    keys: set[str] = set()
    while pos < size:
        if buf[pos] != _DOC_DATA:
            raise _NotUniformError
        entry_start, entry_end = _length_delimited(buf, pos + 1, size)
        if entry_start == entry_end or buf[entry_start] != _ENTRY_KEY:
            raise _NotUniformError
        key_start, key_end = _length_delimited(buf, entry_start + 1, entry_end)
        key = _text(buf, key_start, key_end)
        if key in keys or key_end == entry_end or buf[key_end] != _ENTRY_VALUE:
            raise _NotUniformError  # a repeated key, or an entry without a value
        node_start, node_end = _length_delimited(buf, key_end + 1, entry_end)
        if node_end != entry_end:
            raise _NotUniformError
        keys.add(key)
        nodes.append(_read_node(buf, key, node_start, node_end))
        pos = entry_end
    return size, tuple(nodes)


def read_layout(data: bytes) -> Layout | None:
    """The layout of the first record of ``data`` (a serialized DocList), or None if unreadable here."""
    try:
        size, nodes = _read_record(data)
    except WireFormatError:  # a _NotUniformError, or a varint read_varint refused
        return None
    variable = np.zeros(size, dtype=bool)
    for node in nodes:
        if node.payload is not None:
            variable[node.payload[0] : node.payload[1]] = True
    columns = np.flatnonzero(~variable)
    first = np.frombuffer(data, dtype=np.uint8, count=size)
    return Layout(size, nodes, columns, first[columns].copy())


_LAYOUTS: dict[int, Layout] = {}


def _fits(layout: Layout, rows: npt.NDArray[np.uint8]) -> bool:
    return bool((rows[:, layout.constant_columns] == layout.constants).all())


def match(data: bytes | memoryview, min_records: int = 2) -> Batch | None:
    """``data`` (a serialized DocList, or a view of one) as a uniform batch, or None when it is not one.

    None also when it holds fewer than ``min_records`` records.
    """
    if len(data) < 2 or data[0] != _DOCS:
        return None
    try:
        start, size = _length_delimited(data, 1, len(data))
    except WireFormatError:  # a _NotUniformError, or a varint read_varint refused
        return None
    count, rest = divmod(len(data), size)
    if rest or count < min_records or start == size:
        return None
    rows = np.frombuffer(data, dtype=np.uint8).reshape(count, size)
    layout = _LAYOUTS.get(size)
    if layout is not None and _fits(layout, rows):
        return Batch(layout, rows)
    layout = read_layout(data if isinstance(data, bytes) else bytes(data[:size]))  # its first record
    if layout is None or not _fits(layout, rows):
        return None
    if size in _LAYOUTS or len(_LAYOUTS) < _CACHE_LIMIT:
        _LAYOUTS[size] = layout
    return Batch(layout, rows)


def texts(batch: Batch, payload: tuple[int, int]) -> list[str] | None:
    """The text payload at ``payload`` of every record, or None when one is not valid UTF-8."""
    start, stop = payload
    width = stop - start
    if width == 0:
        return [""] * batch.size
    block = batch.rows[:, start:stop].tobytes()
    if block.isascii():
        whole = block.decode("ascii")
        return [whole[i : i + width] for i in range(0, len(whole), width)]
    try:
        return [block[i : i + width].decode("utf-8") for i in range(0, len(block), width)]
    except UnicodeDecodeError:
        return None


def texts_valid(batch: Batch, payload: tuple[int, int]) -> bool:
    """Whether ``texts`` reads the text payload at ``payload`` of every record (all valid UTF-8)."""
    start, stop = payload
    return batch.rows[:, start:stop].tobytes().isascii() or texts(batch, payload) is not None


def floats(batch: Batch, payload: tuple[int, int]) -> list[float]:
    """The little-endian doubles at ``payload`` of every record."""
    start, stop = payload
    values: list[float] = batch.rows[:, start:stop].copy().view("<f8").ravel().tolist()
    return values


# ------------------------------------------------------------------------- writing


def build(
    record: bytes,
    layout: Layout,
    count: int,
    texts_at: Sequence[tuple[tuple[int, int], bytes]],
    floats_at: Sequence[tuple[tuple[int, int], Sequence[float]]],
    tensors_at: Sequence[tuple[tuple[int, int], np.dtype[Any], tuple[int, ...], Sequence[npt.NDArray[Any]]]],
    head: bytes = b"",
) -> bytes:
    """``head``, then ``count`` records shaped like ``record`` (whose layout is ``layout``), the payloads filled in.

    Args:
        record: one serialized record (its ``DocList.docs`` tag and length included).
        layout: ``record``'s layout.
        count: how many records.
        texts_at: per text payload, the ``count`` texts' UTF-8 bytes joined (each of the payload's width).
        floats_at: per float payload, the ``count`` values.
        tensors_at: per tensor payload, the dtype, shape and the ``count`` arrays (of that dtype and shape).
        head: bytes the result starts with (a caller's envelope): written here, it costs no second copy.
    """
    whole = np.empty(len(head) + count * layout.record_size, dtype=np.uint8)
    whole[: len(head)] = np.frombuffer(head, dtype=np.uint8)
    out = whole[len(head) :].reshape(count, layout.record_size)
    out[:] = np.frombuffer(record, dtype=np.uint8)
    for (start, stop), joined in texts_at:
        out[:, start:stop] = np.frombuffer(joined, dtype=np.uint8).reshape(count, stop - start)
    for (start, stop), values in floats_at:
        out[:, start:stop] = np.asarray(values, dtype="<f8").view(np.uint8).reshape(count, 8)
    for (start, stop), dtype, shape, arrays in tensors_at:
        # copy=False raises rather than copy: the rows must be written in place.
        target = np.reshape(out[:, start:stop].view(dtype), (count, *shape), copy=False)
        target[...] = arrays  # half the time of np.stack(arrays, out=target)
    return whole.tobytes()
