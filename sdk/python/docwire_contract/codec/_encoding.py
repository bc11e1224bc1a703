"""Encoding one document (``encode_doc``): an encoder per value type, picked once per type in docarray's order."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

import numpy as np
from docarray import BaseDoc, DocList
from docarray.array.any_array import AnyDocArray
from docarray.base_doc.base_node import BaseNode
from docarray.base_doc.doc import BaseDocWithoutId
from docarray.base_doc.mixins.io import IOMixin, _type_to_protobuf
from docarray.typing import ID, NdArray
from docarray.typing.bytes.base_bytes import BaseBytes
from docarray.typing.tensor.abstract_tensor import AbstractTensor
from docarray.typing.url.any_url import AnyUrl
from pydantic import BaseModel

from docwire_contract.codec._problems import FieldError, describe_value, inherits, schema_error
from docwire_contract.codec._wire import WIRE_CACHE_LIMIT, Node
from docwire_contract.errors import DocumentSchemaError
from docwire_contract.v1 import document_pb2

# The names this module offers the codec's other modules (its internal interface).
__all__ = [
    "ENCODERS",
    "FAST_ENCODE",
    "TENSOR_ENCODERS",
    "encode_doc",
    "encode_doc_into",
    "encode_failure",
    "encodes_fast",
    "resolve_encoder",
]

_Encoder = Callable[[Any, Node], None]

_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1


def _enc_none(value: Any, node: Node) -> None:
    """``None`` is a node with no content, as docarray writes it."""


def _enc_text(value: Any, node: Node) -> None:
    node.text = value


def _enc_bool(value: Any, node: Node) -> None:
    node.boolean = value


def _enc_int(value: Any, node: Node) -> None:
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise FieldError(f"cannot be encoded: {value} does not fit the wire's 32-bit integer")
    node.integer = value


def _enc_float(value: Any, node: Node) -> None:
    node.float = value


def _enc_blob(value: Any, node: Node) -> None:
    node.blob = value


def _enc_id(value: Any, node: Node) -> None:
    node.text = value
    node.type = "id"


_DTYPE_NAMES: dict[np.dtype[Any], str] = {}
# The encoders _tensor_encoder made: the values they encode can be written a batch at a time.
TENSOR_ENCODERS: set[_Encoder] = set()


def _tensor_encoder(type_name: str) -> _Encoder:
    def encode(value: Any, node: Node) -> None:
        dtype = value.dtype
        dtype_name = _DTYPE_NAMES.get(dtype)
        if dtype_name is None:
            if dtype.hasobject:
                raise FieldError(f"cannot be encoded: a tensor of Python objects ({dtype}) has no bytes")
            dtype_name = _DTYPE_NAMES.setdefault(dtype, dtype.str)
        dense = node.ndarray.dense
        dense.buffer = value.tobytes()
        dense.shape.extend(value.shape)
        dense.dtype = dtype_name
        node.type = type_name

    TENSOR_ENCODERS.add(encode)
    return encode


def _typed_text_encoder(type_name: str) -> _Encoder:
    def encode(value: Any, node: Node) -> None:
        node.text = str(value)
        node.type = type_name

    return encode


def _typed_blob_encoder(type_name: str) -> _Encoder:
    def encode(value: Any, node: Node) -> None:
        node.blob = value
        node.type = type_name

    return encode


def _enc_items(values: Iterable[Any], container: document_pb2.ListOfAny) -> None:
    container.SetInParent()
    add = container.data.add
    for position, item in enumerate(values):
        try:
            _encode_value(item, add())
        except FieldError as issue:
            issue.at_item(position)
            raise


def _enc_list(value: Any, node: Node) -> None:
    _enc_items(value, node.list)


def _enc_set(value: Any, node: Node) -> None:
    _enc_items(value, node.set)


def _enc_tuple(value: Any, node: Node) -> None:
    _enc_items(value, node.tuple)


def _enc_dict(value: Any, node: Node) -> None:
    container = node.dict
    container.SetInParent()
    data = container.data
    for key, item in value.items():
        if not isinstance(key, str):
            raise FieldError(f"cannot be encoded: dictionary keys must be text, got {type(key).__name__}")
        try:
            _encode_value(item, data[key])
        except FieldError as issue:
            issue.at_item(key)
            raise


def _enc_doc(value: Any, node: Node) -> None:
    message = node.doc
    message.SetInParent()
    encode_doc_into(value, message)


def _enc_doc_list(value: Any, node: Node) -> None:
    message = node.doc_array
    message.SetInParent()
    add = message.docs.add
    for position, doc in enumerate(value):
        try:
            encode_doc_into(doc, add())
        except FieldError as issue:
            issue.at_item(position)
            raise


def _enc_by_docarray(value: Any, node: Node) -> None:
    """Anything this module has no fast path for: docarray's own conversion."""
    proto = value._to_node_protobuf() if isinstance(value, BaseNode) else _type_to_protobuf(value)
    node.MergeFromString(proto.SerializeToString())


_BASIC_ENCODERS: Final[dict[type[Any], _Encoder]] = {
    type(None): _enc_none,
    str: _enc_text,
    bool: _enc_bool,
    int: _enc_int,
    float: _enc_float,
    bytes: _enc_blob,
    list: _enc_list,
    set: _enc_set,
    tuple: _enc_tuple,
    dict: _enc_dict,
    np.ndarray: _tensor_encoder("ndarray"),
}
# Keyed by id(type): docarray's tensor classes hash alike through a Python-level
# metaclass __hash__, which would make every lookup slow. _ENCODED_TYPES keeps each
# type alive, so its id cannot be reused.
ENCODERS: dict[int, _Encoder] = {id(tp): encoder for tp, encoder in _BASIC_ENCODERS.items()}
_ENCODED_TYPES: list[type[Any]] = list(_BASIC_ENCODERS)


def resolve_encoder(tp: type[Any]) -> _Encoder:
    """Pick the encoder for a type, testing in docarray's order, and remember it."""
    encoder = _pick_encoder(tp)
    _ENCODED_TYPES.append(tp)
    ENCODERS[id(tp)] = encoder
    return encoder


def _pick_encoder(tp: type[Any]) -> _Encoder:
    if issubclass(tp, BaseNode):
        return _pick_node_encoder(tp)
    if issubclass(tp, np.ndarray):
        return _BASIC_ENCODERS[np.ndarray]
    basics: tuple[tuple[type[Any], _Encoder], ...] = (
        (str, _enc_text),
        (bool, _enc_bool),
        (int, _enc_int),
        (float, _enc_float),
        (bytes, _enc_blob),
        (list, _enc_list),
        (set, _enc_set),
        (tuple, _enc_tuple),
        (dict, _enc_dict),
    )
    # torch/tensorflow tensors and anything docarray refuses go to docarray.
    return next((encoder for base, encoder in basics if issubclass(tp, base)), _enc_by_docarray)


def _pick_node_encoder(tp: type[Any]) -> _Encoder:
    """docarray nodes: the fast encoder where the class keeps docarray's protobuf hooks."""
    if issubclass(tp, BaseDocWithoutId):
        return _enc_doc if inherits(tp, "_to_node_protobuf", IOMixin) else _enc_by_docarray
    if issubclass(tp, DocList):
        kept = inherits(tp, "_to_node_protobuf", AnyDocArray) and inherits(tp, "to_protobuf", DocList)
        return _enc_doc_list if kept else _enc_by_docarray
    if (
        issubclass(tp, NdArray)
        and inherits(tp, "_to_node_protobuf", AbstractTensor)
        and inherits(tp, "to_protobuf", NdArray)
    ):
        return _tensor_encoder(tp._proto_type_name)
    type_name = tp._proto_type_name
    if type_name is not None:
        if issubclass(tp, ID) and inherits(tp, "_to_node_protobuf", ID):
            return _enc_id if type_name == "id" else _typed_text_encoder(type_name)
        if issubclass(tp, AnyUrl) and inherits(tp, "_to_node_protobuf", AnyUrl):
            return _typed_text_encoder(type_name)
        if issubclass(tp, BaseBytes) and inherits(tp, "_to_node_protobuf", BaseBytes):
            return _typed_blob_encoder(type_name)
    return _enc_by_docarray


FAST_ENCODE: dict[type[Any], bool] = {}


def encodes_fast(cls: type[Any]) -> bool:
    fast = FAST_ENCODE.get(cls)
    if fast is None:
        fast = (
            issubclass(cls, BaseDocWithoutId)
            and inherits(cls, "to_protobuf", IOMixin)
            and inherits(cls, "__iter__", BaseModel)
        )
        FAST_ENCODE[cls] = fast
    return fast


_NONE_ENTRIES: dict[tuple[str, ...], bytes] = {}


def _none_entries(names: tuple[str, ...]) -> bytes:
    """A serialized ``Doc`` holding an empty node (None) for each of ``names``.

    Merging it adds those entries in one call, where adding them one by one takes a
    call each; documents of a class mostly have the same fields set to None.
    """
    entries = _NONE_ENTRIES.get(names)
    if entries is None:
        message = document_pb2.Doc()
        for name in names:
            message.data.get_or_create(name)
        entries = message.SerializeToString()
        if len(_NONE_ENTRIES) < WIRE_CACHE_LIMIT:
            _NONE_ENTRIES[names] = entries
    return entries


def encode_doc_into(doc: Any, message: document_pb2.Doc) -> None:
    """Write a document's fields into ``message``, as docarray's ``to_protobuf`` would."""
    cls = type(doc)
    fast = FAST_ENCODE.get(cls)
    if fast is None:
        fast = encodes_fast(cls)
    if not fast:
        if not isinstance(doc, BaseDocWithoutId):
            raise FieldError(f"expects a docarray document, got {describe_value(doc)} ({cls.__name__})")
        try:
            message.MergeFromString(doc.to_protobuf().SerializeToString())
        except (ValueError, TypeError, AttributeError) as exc:
            issue = FieldError(f"cannot be encoded: {exc}")
            issue.owner = cls.__name__
            raise issue from exc
        return
    data = message.data
    get = ENCODERS.get
    nones: list[str] | None = None
    for name, value in doc.__dict__.items():
        if name[:1] == "_":
            continue
        if value is None:  # a node without content, written below
            if nones is None:
                nones = [name]
            else:
                nones.append(name)
            continue
        encoder = get(id(type(value))) or resolve_encoder(type(value))
        try:
            encoder(value, data[name])
        except FieldError as issue:
            issue.at_field(name, cls)
            raise
        except (ValueError, TypeError, OverflowError) as exc:
            raise FieldError(f"cannot be encoded: {exc}").at_field(name, cls) from exc
    if nones is not None:
        if len(nones) == 1:
            data.get_or_create(nones[0])
        else:
            message.MergeFromString(_none_entries(tuple(nones)))
    extra = doc.__pydantic_extra__
    if extra:  # iterating a pydantic model yields its extra fields last
        for name, value in extra.items():
            try:
                _encode_value(value, data[name])
            except FieldError as issue:
                issue.at_field(name, cls)
                raise


def _encode_value(value: Any, node: Node) -> None:
    encoder = ENCODERS.get(id(type(value))) or resolve_encoder(type(value))
    try:
        encoder(value, node)
    except (ValueError, TypeError, OverflowError) as exc:
        raise FieldError(f"cannot be encoded: {exc}") from exc


def encode_failure(exc: FieldError | RecursionError, index: int | None) -> DocumentSchemaError:
    if isinstance(exc, FieldError):
        return schema_error(exc, index)
    where = f"document {index}: " if index is not None else ""
    return DocumentSchemaError(
        f"{where}the document nests values deeper than they can be encoded (Python's recursion limit): a value "
        "that contains itself (a cyclic reference), or dicts and lists hundreds deep"
    )


def encode_doc(doc: BaseDoc) -> document_pb2.Doc:
    """Encode one document as a ``docwire.v1.Doc`` message (docarray's ``DocProto``).

    Raises:
        DocumentSchemaError: a field holds a value the wire cannot carry; the message
            names the field.
    """
    message = document_pb2.Doc()
    try:
        encode_doc_into(doc, message)
    except (FieldError, RecursionError) as exc:
        raise encode_failure(exc, None) from None
    return message
