"""Decoding documents (``decode_doc``, ``decode_docs``), a uniform batch at a time where the bytes allow.

A batch whose records share one layout (see :mod:`docwire_contract.codec._batch_layout`) becomes
documents field by field over the whole batch; ``reencodes_unchanged`` tells whether
encoding them again gives the same bytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from itertools import repeat, starmap
from math import prod
from operator import setitem
from typing import Any, Final, TypeVar, cast

from docarray import BaseDoc, DocList
from docarray.typing import ID
from google.protobuf.message import DecodeError

from docwire_contract.codec import _batch_layout as batch_layout
from docwire_contract.codec._encoding import encodes_fast
from docwire_contract.codec._plans import TypedPlan, plan_of
from docwire_contract.codec._problems import FieldError, PydanticNeededError, schema_error
from docwire_contract.codec._uniform_encoding import UNIFORM_MIN_DOCS
from docwire_contract.codec._values import DTYPES, NEW_ARRAY, dtype_of
from docwire_contract.codec._wire import WIRE_CACHE_LIMIT, Node
from docwire_contract.doc_types import list_class
from docwire_contract.errors import BadRequest
from docwire_contract.v1 import document_pb2

# The names this module offers the codec's other modules (its internal interface).
__all__ = ["decode_doc", "decode_docs", "reencodes_unchanged"]

T = TypeVar("T", bound=BaseDoc)

# Runs an iterator to its end, keeping nothing: ``map`` calls done in C.
_exhaust: Final[Callable[[Iterable[Any]], object]] = partial(deque, maxlen=0)


class _UniformRead:
    """How a uniform batch becomes documents of one plan: per field, where its values come from.

    Attributes:
        present: the declared fields the records hold (the documents' fields set).
        shared: the values of fields whose node has no payload and decodes to None.
        fresh: fields whose node decodes to an empty dict or list: a new one per document.
        columns: ``(name, node)`` of the fields read from payloads.
        canonical: encoding the decoded documents gives these records back (every declared
            field present, none undeclared, tensors with their class' ``type`` and dtype
            spelled as numpy spells it).
    """

    __slots__ = ("canonical", "columns", "fresh", "present", "shared")

    def __init__(self) -> None:
        self.present: set[str] = set()
        self.shared: dict[str, Any] = {}
        self.fresh: list[tuple[str, Callable[[], Any]]] = []
        self.columns: list[tuple[str, batch_layout.NodeShape]] = []
        self.canonical = True


# Per (plan, layout): what ``_read_uniform`` found. It depends on the two alone, and both are
# cached objects (``plan_of``, ``batch_layout.match``), so the same pair comes back request after request.
_READS: dict[tuple[int, int], tuple[TypedPlan, batch_layout.Layout, _UniformRead | None]] = {}


def _read_uniform(plan: TypedPlan, batch: batch_layout.Batch) -> _UniformRead | None:
    """What the documents of ``batch`` hold, or None when the general path must decide (read once per
    plan and layout; the answer is shared, and read only)."""
    layout = batch.layout
    cached = _READS.get((id(plan), id(layout)))
    if cached is not None and cached[0] is plan and cached[1] is layout:
        return cached[2]
    read = _read_layout(plan, batch)
    if len(_READS) < WIRE_CACHE_LIMIT:
        _READS[(id(plan), id(layout))] = (plan, layout, read)
    return read


def _read_layout(plan: TypedPlan, batch: batch_layout.Batch) -> _UniformRead | None:
    """``_read_uniform``'s answer, read.

    Every field is read as the general path reads it, or the batch is refused: payloads
    only where the field's decoder takes them as they are (see ``uniform_kind``);
    payload-free nodes through the field's own decoder, once for the whole batch.
    """
    if not plan.construct:
        return None
    read = _UniformRead()
    for node in batch.layout.nodes:
        name = node.key
        decoder = plan.decoders.get(name)
        if decoder is None:
            read.canonical = False  # undeclared: dropped, as the general path drops it
            continue
        read.present.add(name)
        content, type_name = node.content, node.type_name
        if node.payload is None:
            try:
                value = decoder(Node.FromString(node.node))
            except (FieldError, PydanticNeededError):
                return None
            if value is None and content is None and type_name is None:
                read.shared[name] = None
            elif type(value) in (dict, list) and not value and type_name is None and content is not None:
                read.fresh.append((name, type(value)))
                read.canonical = read.canonical and content == (
                    batch_layout.DICT if type(value) is dict else batch_layout.LIST
                )
            else:
                return None
            continue
        kind, target = plan.uniform[name]
        if content == batch_layout.TEXT:
            if kind != batch_layout.TEXT:
                return None
            if target is ID:
                if type_name != "id" or node.payload[0] == node.payload[1]:
                    return None
            elif type_name is not None:
                return None
        elif content == batch_layout.FLOAT:
            if kind != batch_layout.FLOAT or type_name is not None:
                return None
        elif content == batch_layout.NDARRAY:
            if kind != batch_layout.NDARRAY or type_name not in plan.tensor_type_names:
                return None
            dtype = DTYPES.get(cast(str, node.dtype))
            if dtype is None:
                try:
                    dtype = dtype_of(cast(str, node.dtype))
                except FieldError:
                    return None
            start, stop = node.payload
            if prod(cast(tuple[int, ...], node.shape)) * dtype.itemsize != stop - start:
                return None
            read.canonical = read.canonical and type_name == target._proto_type_name and node.dtype == dtype.str
        else:
            return None
        read.columns.append((name, node))
    complete = len(read.present) == len(plan.names)
    if not (complete or read.present.issuperset(plan.required)):
        return None
    read.canonical = read.canonical and complete and not plan.post_init and encodes_fast(plan.cls)
    return read


def _uniform_values(
    data: bytes, batch: batch_layout.Batch, plan: TypedPlan, name: str, node: batch_layout.NodeShape
) -> list[Any] | None:
    """One field's value in every document of the batch, read from its payloads."""
    payload = cast(tuple[int, int], node.payload)
    if node.content == batch_layout.TEXT:
        values = batch_layout.texts(batch, payload)
        if values is not None and plan.uniform[name][1] is ID:
            return list(map(ID, values))
        return values
    if node.content == batch_layout.FLOAT:
        return batch_layout.floats(batch, payload)
    target = plan.uniform[name][1]
    dtype = dtype_of(cast(str, node.dtype))
    shape = cast(tuple[int, ...], node.shape)
    start, stop = payload
    if shape:
        # One writable copy of the batch's tensors, each document's tensor a view of its own
        # row: one allocation and one copy per batch instead of one per document. (The rows
        # are disjoint; the block lives as long as any of them.)
        block = batch.rows[:, start:stop].copy().view(dtype).reshape((batch.size, *shape))
        return list(block.view(target))
    step = batch.layout.record_size
    view = memoryview(data)
    # A 0-d tensor: iterating a block would give scalars, so each gets a copy of its own bytes.
    return [
        NEW_ARRAY(target, shape, dtype, bytearray(view[offset : offset + stop - start]))
        for offset in range(start, step * batch.size, step)
    ]


def decode_uniform(data: bytes, plan: TypedPlan) -> list[Any] | None:
    """The documents of a uniform batch, built as ``TypedPlan.decode`` builds them; None if not one."""
    batch = batch_layout.match(data, UNIFORM_MIN_DOCS)
    if batch is None:
        return None
    read = _read_uniform(plan, batch)
    if read is None:
        return None
    names: list[str] = []
    columns: list[list[Any]] = []
    for name, node in read.columns:
        column = _uniform_values(data, batch, plan, name, node)
        if column is None:
            return None
        names.append(name)
        columns.append(column)
    present = read.present
    base = plan.template.copy()
    base.update(read.shared)
    fills = [(name, factory) for name, factory in plan.factories if name not in present] + read.fresh
    set_dict, set_fields_set, set_extra, set_private = plan.setters
    # Field by field over the whole batch, each step one ``map`` run to its end by
    # ``_exhaust`` in C: half the time of a Python loop over the documents.
    count = batch.size
    dicts = list(map(dict.copy, repeat(base, count)))  # every field, in declaration order
    for name, column in zip(names, columns, strict=True):
        _exhaust(map(setitem, dicts, repeat(name), column))
    for name, factory in fills:
        _exhaust(map(setitem, dicts, repeat(name), starmap(factory, repeat((), count))))
    docs = list(map(plan.new, repeat(plan.cls, count)))
    _exhaust(map(set_dict, docs, dicts))
    _exhaust(map(set_fields_set, docs, map(set.copy, repeat(present, count))))
    _exhaust(map(set_extra, docs, starmap(dict, repeat((), count)) if plan.extra_allowed else repeat(None)))
    _exhaust(map(set_private, docs, repeat(None)))
    if plan.post_init:
        for doc in docs:
            doc.model_post_init(None)
    return docs


def reencodes_unchanged(data: bytes | memoryview, doc_type: type[BaseDoc]) -> bool:
    """Whether decoding ``data`` as ``doc_type`` and encoding the documents again gives ``data``'s documents.

    ``data`` may be a view into a larger message: it is read, never kept.

    True only for uniform batches (see :mod:`docwire_contract.codec._batch_layout`) that hold
    exactly ``doc_type``'s fields, each as its encoder writes it, with valid text: then
    an executor that leaves the documents alone may answer with ``data`` itself. False
    says nothing (the general path decides, and raises what is wrong).
    """
    plan = plan_of(doc_type)
    if not isinstance(plan, TypedPlan):
        return False
    batch = batch_layout.match(data, UNIFORM_MIN_DOCS)
    if batch is None:
        return False
    read = _read_uniform(plan, batch)
    if read is None or not read.canonical:
        return False
    return all(
        batch_layout.texts_valid(batch, cast(tuple[int, int], node.payload))
        for _, node in read.columns
        if node.content == batch_layout.TEXT
    )


def decode_doc(message: document_pb2.Doc, doc_type: type[T]) -> T:
    """Decode one ``docwire.v1.Doc`` message (docarray's ``DocProto``) as a ``doc_type``.

    Raises:
        DocumentSchemaError: the message does not fit ``doc_type``; the message names the field.
        TypeError: ``doc_type`` is not a docarray document class.
    """
    plan = plan_of(doc_type)
    try:
        return cast(T, plan.decode(message))
    except FieldError as issue:
        raise schema_error(issue, None) from None


def decode_docs(data: bytes, doc_type: type[T]) -> DocList[T]:
    """Decode a serialized ``docwire.v1.DocList`` (docarray's ``DocListProto``).

    Returns a ``DocList[doc_type]``, as ``DocList[doc_type].from_protobuf`` would.

    Raises:
        BadRequest: ``data`` is not a serialized document list.
        DocumentSchemaError: a document does not fit ``doc_type``; the message names the
            document's index and the field.
        TypeError: ``doc_type`` is not a docarray document class.
    """
    plan = plan_of(doc_type)
    uniform = decode_uniform(data, plan) if isinstance(plan, TypedPlan) else None
    if uniform is not None:
        return _doc_list(doc_type, uniform)
    message = document_pb2.DocList()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise BadRequest(f"the documents cannot be parsed ({len(data)} bytes): {exc}") from None
    docs: list[Any] = []
    decode = plan.decode
    append = docs.append
    try:
        for doc in message.docs:
            append(decode(doc))
    except FieldError as issue:
        raise schema_error(issue, len(docs)) from None
    return _doc_list(doc_type, docs)


def _doc_list(doc_type: type[T], docs: list[Any]) -> DocList[T]:
    list_type: Any = list_class(doc_type)
    return cast("DocList[T]", list_type(docs, validate_input_docs=False))
