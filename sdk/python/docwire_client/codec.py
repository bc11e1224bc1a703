"""Fast conversion between docarray documents and ``docwire.v1`` document messages.

The wire format is docarray's own (``DocProto``/``DocListProto``, field for field), so
docarray decodes what this module encodes and the other way round. docarray's
``to_protobuf``/``from_protobuf`` are too slow for the hot path: they build messages
through keyword constructors, decode tensors through ``parse_obj_as`` and validate
every field through pydantic again. This module produces the same messages and the
same documents, faster:

* **Encoding** dispatches on the exact type of each value through a table
  (``type -> encoder``) that is filled once per type, in the order docarray's
  ``_type_to_protobuf`` tests ``isinstance``. A value docarray encodes by value (an
  ``int`` in an ``Any`` field, a ``list`` of tensors, ...) is encoded by value here too;
  tensors go straight from ``tobytes()`` into the ``buffer`` field. Values this module
  does not know (torch tensors, custom docarray types) go through docarray's own
  ``_to_node_protobuf``, so nothing is lost.
* **Decoding** uses a plan built once per document class: for each declared field a
  decoder (field name -> function) that reads the node, mirrors docarray's
  ``_get_content_from_node_proto`` (the ``type`` string picks the docarray class, the
  field annotation picks the class of nested documents and document lists) and then
  brings the value to what pydantic would make of it (a tensor is viewed as the
  declared tensor class through that class' own validator, as pydantic does). When
  every field came out already valid, the document is built directly, without
  pydantic (``__dict__`` and ``__pydantic_fields_set__`` set as ``__init__`` would set
  them; absent fields take their defaults as pydantic gives them: a hashable default
  shared, any other a fresh deep copy per document, a factory called). When one did
  not (a value pydantic would coerce or reject, a missing required field, a
  constrained field, a class with its own validators), the document is built with
  ``cls(**fields)``, exactly as docarray builds it, so the outcome is docarray's.
  Classes that override docarray's protobuf hooks are decoded by docarray itself.

Behaviour callers must know (all of it docarray's):

* Fields present in a message but not declared by a typed ``doc_type`` are dropped
  silently, as docarray's ``from_protobuf`` drops them (only classes with
  ``_load_extra_fields_from_protobuf``, i.e. ``AnyDoc``, keep them).
* A declared field absent from a message takes its default; for ``id`` that is a new
  random id.
* ``id`` travels as text with type ``"id"``; a plain text id is accepted too.
* ``AnyDoc`` keeps every field with the value the node alone describes: nested
  documents become ``AnyDoc``, document lists untyped ``DocList``, tensors the class
  their ``type`` names. Its ``__pydantic_fields_set__`` is empty, as with docarray.
* Integers travel as ``int32``; a larger one cannot be encoded.
* A tensor's class comes from its ``type`` and is then validated into the declared
  class: an ``AnyTensor`` field gets an ``NdArray``, an ``AnyEmbedding`` field an
  ``NdArrayEmbedding``, whatever the sender had.

* Decoded tensors are writable copies of the message bytes, as docarray's are.
* Map order is not kept on the wire: dict fields (``tags``) and ``AnyDoc`` fields come
  back in protobuf's order, as with docarray.

Where this module deliberately differs from docarray:

* A tensor with no ``type`` (or one naming a class not installed here, e.g.
  ``torch_tensor`` without torch) decodes as an ``NdArray``; docarray refuses it.
* List items of a ``list[X]`` field (builtin generic) are read as ``X``, like those of
  ``typing.List[X]``; docarray only unpacks ``typing`` generics.
* A tensor with an empty buffer keeps its dtype (docarray turns it into float64 zeros)
  and must have a zero-sized shape: a non-empty shape without data is refused, as a
  guard against messages that would make the receiver allocate huge arrays.
* Errors are ``DocumentSchemaError``/``BadRequest`` naming the document and field,
  where docarray raises whatever its internals raise.
"""

from __future__ import annotations

import copy
import types
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from itertools import repeat, starmap
from math import prod
from operator import attrgetter, setitem
from typing import Any, Final, NoReturn, TypeVar, Union, cast, get_args, get_origin

import numpy as np
from docarray import BaseDoc, DocList
from docarray.array.any_array import AnyDocArray
from docarray.base_doc import AnyDoc
from docarray.base_doc.base_node import BaseNode
from docarray.base_doc.doc import BaseDocWithoutId
from docarray.base_doc.mixins.io import IOMixin, _type_to_protobuf
from docarray.typing import ID, AnyEmbedding, AnyTensor, NdArray, NdArrayEmbedding
from docarray.typing.abstract_type import AbstractType
from docarray.typing.bytes.base_bytes import BaseBytes
from docarray.typing.proto_register import _PROTO_TYPE_NAME_TO_CLASS
from docarray.typing.tensor.abstract_tensor import AbstractTensor
from docarray.typing.url.any_url import AnyUrl
from google.protobuf.message import DecodeError
from pydantic import BaseModel, TypeAdapter, ValidationError

from docwire.v1 import document_pb2
from docwire_client import batch_layout
from docwire_client.errors import BadRequest, DocumentSchemaError

__all__ = [
    "LENGTH_DELIMITED",
    "VARINT",
    "decode_doc",
    "decode_docs",
    "encode_doc",
    "encode_docs",
    "field_key",
    "reencodes_unchanged",
    "varint_bytes",
]

T = TypeVar("T", bound=BaseDoc)

Node = document_pb2.Node
_Encoder = Callable[[Any, Node], None]
_Decoder = Callable[[Node], Any]
_Coercer = Callable[[Any], Any]

_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_NONE_TYPE: Final = type(None)
# Caches keyed by what arrives on the wire stop growing at this size.
_WIRE_CACHE_LIMIT: Final = 256


# --------------------------------------------------------------------------- errors


class _FieldError(Exception):
    """A value that does not fit, located by a path that grows while it unwinds."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.path: list[str] = []
        self.owner: str | None = None

    def at_field(self, name: str, owner: type[Any]) -> _FieldError:
        self.path.insert(0, name)
        if self.owner is None:
            self.owner = owner.__name__
        return self

    def at_item(self, key: int | str) -> _FieldError:
        self.path.insert(0, f"[{key!r}]")
        return self

    def render(self, index: int | None) -> str:
        where = f"document {index}: " if index is not None else ""
        if not self.path:
            return f"{where}{self.owner + ' ' if self.owner else ''}{self.detail}"
        path = "".join(part if part.startswith("[") else f".{part}" for part in self.path)
        return f"{where}field '{path.lstrip('.')}' of {self.owner} {self.detail}"


class _PydanticNeededError(Exception):
    """Raised by a field decoder when only pydantic can say what the value becomes."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


_KIND_NAMES: Final = {
    "text": "text",
    "integer": "an integer",
    "float": "a float",
    "boolean": "a boolean",
    "blob": "bytes",
    "ndarray": "a tensor",
    "doc": "a document",
    "doc_array": "a list of documents",
    "list": "a list",
    "set": "a set",
    "tuple": "a tuple",
    "dict": "a dict",
    None: "nothing (None)",
}


def _describe_value(value: Any) -> str:
    """Name what a decoded value is, in the words of the wire."""
    checks: tuple[tuple[type[Any] | tuple[type[Any], ...], str], ...] = (
        (str, "text"),
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (bytes, "bytes"),
        ((np.ndarray, AbstractTensor), "a tensor"),
        (BaseDocWithoutId, "a document"),
        (AnyDocArray, "a list of documents"),
        (list, "a list"),
        ((set, frozenset), "a set"),
        (tuple, "a tuple"),
        (dict, "a dict"),
    )
    if value is None:
        return "nothing (None)"
    for kinds, name in checks:
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if isinstance(origin, type) and issubclass(origin, AnyDocArray):
        return f"{origin.__name__}[{getattr(tp, 'doc_type', AnyDoc).__name__}]"
    if isinstance(tp, type):
        return tp.__name__
    return repr(tp).replace("typing.", "")


def _describe_type(tp: Any) -> str:
    """Name what a field expects, for error messages."""
    inner, nullable = _strip_optional(tp)
    suffix = " or None" if nullable else ""
    origin = get_origin(inner)
    cls = inner if isinstance(inner, type) else origin
    kind = "a value"
    if isinstance(cls, type):
        kinds: tuple[tuple[type[Any], str], ...] = (
            (bool, "a boolean"),
            (str, "text"),
            (int, "an integer"),
            (float, "a float"),
            (bytes, "bytes"),
            (AbstractTensor, "a tensor"),
            (BaseDocWithoutId, "a document"),
            (AnyDocArray, "a list of documents"),
            (list, "a list"),
            (set, "a set"),
            (tuple, "a tuple"),
            (dict, "a dict"),
        )
        kind = next((name for base, name in kinds if issubclass(cls, base)), kind)
    return f"{kind} ({_type_name(inner)}){suffix}"


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    """``Optional[X]`` (or ``X | None``) -> ``(X, True)``; anything else -> ``(tp, False)``."""
    if _is_union(tp):
        args = get_args(tp)
        if _NONE_TYPE in args:
            rest = tuple(arg for arg in args if arg is not _NONE_TYPE)
            return (rest[0] if len(rest) == 1 else Union[rest]), True  # noqa: UP007
    return tp, False


def _is_union(tp: Any) -> bool:
    origin = get_origin(tp)
    return origin is Union or origin is types.UnionType


def _wrap_validation(exc: ValidationError, cls: type[Any], values: dict[str, Any] | None) -> _FieldError:
    """Turn pydantic's verdict on ``cls(**values)`` into an issue naming the field."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = first["loc"]
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    fields = cls.model_fields if issubclass(cls, BaseModel) else {}
    if not loc:
        issue = _FieldError(f"rejects the document: {first['msg']}{more}")
        issue.owner = cls.__name__
        return issue
    name = str(loc[0])
    if first["type"] == "missing" and len(loc) == 1:
        issue = _FieldError(f"is required but missing{more}")
    elif len(loc) == 1 and name in fields:
        expects = _describe_type(fields[name].annotation)
        got = f", got {_describe_value(values.get(name))}" if values is not None else ""
        issue = _FieldError(f"expects {expects}{got}: {first['msg']}{more}")
    else:
        issue = _FieldError(f"is invalid: {first['msg']}{more}")
    for part in reversed(loc[1:]):
        issue.at_item(part)
    return issue.at_field(name, cls)


def _function(owner: Any, name: str) -> Any:
    """The plain function behind a method or classmethod, to tell whether a class overrides it."""
    attribute = getattr(owner, name)
    return getattr(attribute, "__func__", attribute)


def _inherits(cls: Any, name: str, base: Any) -> bool:
    """Whether ``cls`` uses ``base``'s implementation of ``name`` unchanged."""
    return _function(cls, name) is _function(base, name)


def _mismatch(declared: Any, value: Any, detail: str) -> _FieldError:
    return _FieldError(f"expects {_describe_type(declared)}, got {_describe_value(value)}: {detail}")


def _schema_error(issue: _FieldError, index: int | None) -> DocumentSchemaError:
    return DocumentSchemaError(issue.render(index))


# ------------------------------------------------------------------------- encoding


def _enc_none(value: Any, node: Node) -> None:
    """``None`` is a node with no content, as docarray writes it."""


def _enc_text(value: Any, node: Node) -> None:
    node.text = value


def _enc_bool(value: Any, node: Node) -> None:
    node.boolean = value


def _enc_int(value: Any, node: Node) -> None:
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise _FieldError(f"cannot be encoded: {value} does not fit the wire's 32-bit integer")
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
_TENSOR_ENCODERS: set[_Encoder] = set()


def _tensor_encoder(type_name: str) -> _Encoder:
    def encode(value: Any, node: Node) -> None:
        dtype = value.dtype
        dtype_name = _DTYPE_NAMES.get(dtype)
        if dtype_name is None:
            if dtype.hasobject:
                raise _FieldError(f"cannot be encoded: a tensor of Python objects ({dtype}) has no bytes")
            dtype_name = _DTYPE_NAMES.setdefault(dtype, dtype.str)
        dense = node.ndarray.dense
        dense.buffer = value.tobytes()
        dense.shape.extend(value.shape)
        dense.dtype = dtype_name
        node.type = type_name

    _TENSOR_ENCODERS.add(encode)
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
        except _FieldError as issue:
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
            raise _FieldError(f"cannot be encoded: dictionary keys must be text, got {type(key).__name__}")
        try:
            _encode_value(item, data[key])
        except _FieldError as issue:
            issue.at_item(key)
            raise


def _enc_doc(value: Any, node: Node) -> None:
    message = node.doc
    message.SetInParent()
    _encode_doc_into(value, message)


def _enc_doc_list(value: Any, node: Node) -> None:
    message = node.doc_array
    message.SetInParent()
    add = message.docs.add
    for position, doc in enumerate(value):
        try:
            _encode_doc_into(doc, add())
        except _FieldError as issue:
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
_ENCODERS: dict[int, _Encoder] = {id(tp): encoder for tp, encoder in _BASIC_ENCODERS.items()}
_ENCODED_TYPES: list[type[Any]] = list(_BASIC_ENCODERS)


def _resolve_encoder(tp: type[Any]) -> _Encoder:
    """Pick the encoder for a type, testing in docarray's order, and remember it."""
    encoder = _pick_encoder(tp)
    _ENCODED_TYPES.append(tp)
    _ENCODERS[id(tp)] = encoder
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
        return _enc_doc if _inherits(tp, "_to_node_protobuf", IOMixin) else _enc_by_docarray
    if issubclass(tp, DocList):
        kept = _inherits(tp, "_to_node_protobuf", AnyDocArray) and _inherits(tp, "to_protobuf", DocList)
        return _enc_doc_list if kept else _enc_by_docarray
    if (
        issubclass(tp, NdArray)
        and _inherits(tp, "_to_node_protobuf", AbstractTensor)
        and _inherits(tp, "to_protobuf", NdArray)
    ):
        return _tensor_encoder(tp._proto_type_name)
    type_name = tp._proto_type_name
    if type_name is not None:
        if issubclass(tp, ID) and _inherits(tp, "_to_node_protobuf", ID):
            return _enc_id if type_name == "id" else _typed_text_encoder(type_name)
        if issubclass(tp, AnyUrl) and _inherits(tp, "_to_node_protobuf", AnyUrl):
            return _typed_text_encoder(type_name)
        if issubclass(tp, BaseBytes) and _inherits(tp, "_to_node_protobuf", BaseBytes):
            return _typed_blob_encoder(type_name)
    return _enc_by_docarray


_FAST_ENCODE: dict[type[Any], bool] = {}


def _encodes_fast(cls: type[Any]) -> bool:
    fast = _FAST_ENCODE.get(cls)
    if fast is None:
        fast = (
            issubclass(cls, BaseDocWithoutId)
            and _inherits(cls, "to_protobuf", IOMixin)
            and _inherits(cls, "__iter__", BaseModel)
        )
        _FAST_ENCODE[cls] = fast
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
        if len(_NONE_ENTRIES) < _WIRE_CACHE_LIMIT:
            _NONE_ENTRIES[names] = entries
    return entries


def _encode_doc_into(doc: Any, message: document_pb2.Doc) -> None:
    """Write a document's fields into ``message``, as docarray's ``to_protobuf`` would."""
    cls = type(doc)
    fast = _FAST_ENCODE.get(cls)
    if fast is None:
        fast = _encodes_fast(cls)
    if not fast:
        if not isinstance(doc, BaseDocWithoutId):
            raise _FieldError(f"expects a docarray document, got {_describe_value(doc)} ({cls.__name__})")
        try:
            message.MergeFromString(doc.to_protobuf().SerializeToString())
        except (ValueError, TypeError, AttributeError) as exc:
            issue = _FieldError(f"cannot be encoded: {exc}")
            issue.owner = cls.__name__
            raise issue from exc
        return
    data = message.data
    get = _ENCODERS.get
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
        encoder = get(id(type(value))) or _resolve_encoder(type(value))
        try:
            encoder(value, data[name])
        except _FieldError as issue:
            issue.at_field(name, cls)
            raise
        except (ValueError, TypeError, OverflowError) as exc:
            raise _FieldError(f"cannot be encoded: {exc}").at_field(name, cls) from exc
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
            except _FieldError as issue:
                issue.at_field(name, cls)
                raise


def _encode_value(value: Any, node: Node) -> None:
    encoder = _ENCODERS.get(id(type(value))) or _resolve_encoder(type(value))
    try:
        encoder(value, node)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _FieldError(f"cannot be encoded: {exc}") from exc


def _encode_failure(exc: _FieldError | RecursionError, index: int | None) -> DocumentSchemaError:
    if isinstance(exc, _FieldError):
        return _schema_error(exc, index)
    where = f"document {index}: " if index is not None else ""
    return DocumentSchemaError(f"{where}the document refers to itself (a cyclic reference); cannot encode it")


def encode_doc(doc: BaseDoc) -> document_pb2.Doc:
    """Encode one document as a ``docwire.v1.Doc`` message (docarray's ``DocProto``).

    Raises:
        DocumentSchemaError: a field holds a value the wire cannot carry; the message
            names the field.
    """
    message = document_pb2.Doc()
    try:
        _encode_doc_into(doc, message)
    except (_FieldError, RecursionError) as exc:
        raise _encode_failure(exc, None) from None
    return message


# ------------------------------------------------------------- uniform batches, encoding

#: Below this many documents a batch is encoded and decoded one document at a time.
_UNIFORM_MIN_DOCS: Final = 8

_DICT_OF: Final = attrgetter("__dict__")
_EXTRA_OF: Final = attrgetter("__pydantic_extra__")
_DTYPE_OF: Final = attrgetter("dtype")
_SHAPE_OF: Final = attrgetter("shape")


def varint_bytes(value: int) -> bytes:
    """A length as protobuf writes it: 7 bits a byte, low first, the high bit set on all but the last."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


#: Protobuf wire types of the fields written by hand around serialized messages.
VARINT: Final = 0
LENGTH_DELIMITED: Final = 2


def field_key(number: int, wire_type: int) -> bytes:
    """The key protobuf writes before field ``number`` of ``wire_type`` (``VARINT``, ``LENGTH_DELIMITED``)."""
    return varint_bytes(number << 3 | wire_type)


# What one field of a uniform batch holds, for encoding: the same in every document.
_NONE: Final = "none"  # None everywhere: an empty node
_EMPTY: Final = "empty"  # an empty dict (or list) everywhere
_TEXT: Final = "text"  # str (or ID) values of one length, ASCII
_FLOAT: Final = "float"
_TENSOR: Final = "tensor"  # numpy tensors of one class, dtype and shape


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
            signature.append((name, _TEXT, kind, len(value)))
            columns.append((name, _TEXT, joined.encode("ascii")))
        elif kind is float:
            signature.append((name, _FLOAT))
            columns.append((name, _FLOAT, column))
        elif (_ENCODERS.get(id(kind)) or _resolve_encoder(kind)) in _TENSOR_ENCODERS:
            dtype, shape = value.dtype, value.shape
            if (
                dtype.hasobject
                or value.size == 0
                or set(map(_DTYPE_OF, column)) != {dtype}
                or set(map(_SHAPE_OF, column)) != {shape}
            ):
                return None
            signature.append((name, _TENSOR, kind, dtype, shape))
            columns.append((name, _TENSOR, (dtype, shape, column)))
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
        elif kind == _TEXT:
            fits = content == batch_layout.TEXT and node.payload is not None
        elif kind == _FLOAT:
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
    if len(_UNIFORM_ENCODINGS) < _WIRE_CACHE_LIMIT:
        _UNIFORM_ENCODINGS[signature] = encoding
    return encoding


def _encode_uniform(docs: list[Any], head: Callable[[int], bytes] | None = None) -> bytes | None:
    """A batch of documents of one class whose fields have one size each, in a few numpy calls.

    Returns None (the caller encodes document by document) for anything else: documents
    of several classes, extra fields, texts of different lengths, tensors of different
    shapes, value kinds other than None, str, ID, float, numpy tensors and empty
    containers. The first document is encoded by the general path; the others are its
    record with their payloads in place, so the bytes are what protobuf would write.
    """
    first = docs[0]
    cls = type(first)
    fast = _FAST_ENCODE.get(cls)
    if fast is None:
        fast = _encodes_fast(cls)
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
        _encode_doc_into(first, message)
    except (_FieldError, RecursionError):
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
        if kind == _TEXT:
            texts.append((where, data))
        elif kind == _FLOAT:
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
    if isinstance(docs, list) and len(docs) >= _UNIFORM_MIN_DOCS:
        encoded = _encode_uniform(docs, head)
        if encoded is not None:
            return encoded
    message = document_pb2.DocList()
    add = message.docs.add
    for index, doc in enumerate(docs):
        try:
            _encode_doc_into(doc, add())
        except (_FieldError, RecursionError) as exc:
            raise _encode_failure(exc, index) from None
    encoded = message.SerializeToString()
    return head(len(encoded)) + encoded if head is not None else encoded


# ------------------------------------------------------------------------- decoding

_DTYPES: dict[str, np.dtype[Any]] = {}


def _dtype(name: str) -> np.dtype[Any]:
    dtype = _DTYPES.get(name)
    if dtype is None:
        try:
            dtype = np.dtype(name)
        except (TypeError, ValueError, SyntaxError) as exc:
            raise _FieldError(f"holds a tensor of unknown dtype {name!r}") from exc
        if dtype.hasobject or dtype.itemsize == 0:
            raise _FieldError(f"holds a tensor of dtype {name!r}, which cannot travel as bytes")
        if len(_DTYPES) < _WIRE_CACHE_LIMIT:
            _DTYPES[name] = dtype
    return dtype


# ``ndarray.__new__(cls, shape, dtype, buffer)`` builds the tensor straight on the copied
# bytes: one object, where ``np.frombuffer(...).view(cls)`` leaves three behind (an
# array, a memoryview and its managed buffer, the last two tracked by the garbage
# collector). Same class, shape, dtype, data and flags; only ``.base`` differs (the
# bytearray itself). Used for classes that keep numpy's ``__array_finalize__``, which
# is what ``view`` would have called.
_NEW_ARRAY: Final = np.ndarray.__new__
_PLAIN_FINALIZE: Final = np.ndarray.__array_finalize__
# Runs an iterator to its end, keeping nothing: ``map`` calls done in C.
_exhaust: Final[Callable[[Iterable[Any]], object]] = partial(deque, maxlen=0)


def _builds_directly(cls: type[Any]) -> bool:
    """Whether tensors of ``cls`` can be built with ``ndarray.__new__`` instead of a view."""
    return cls.__array_finalize__ is _PLAIN_FINALIZE


def _decode_tensor(message: document_pb2.NdArray, cls: type[Any]) -> Any:
    """An ``NdArray`` message -> a writable array viewed as the numpy tensor class ``cls``."""
    dense = message.dense
    buffer = dense.buffer
    dtype = _dtype(dense.dtype)
    shape = dense.shape
    if buffer and _builds_directly(cls):
        dims = tuple(shape)
        if prod(dims) * dtype.itemsize == len(buffer):
            return _NEW_ARRAY(cls, dims, dtype, bytearray(buffer))
        # Otherwise numpy says what is wrong, below.
    try:
        if buffer:
            array = np.frombuffer(bytearray(buffer), dtype)
            if len(shape) != 1 or shape[0] != array.shape[0]:
                array = array.reshape(tuple(shape))
        elif shape and 0 in shape:
            array = np.empty(tuple(shape), dtype=dtype)
        elif shape:
            raise _FieldError(f"holds a tensor of shape {tuple(shape)} without data")
        else:
            raise _FieldError("holds a tensor with neither data nor shape")
    except ValueError as exc:
        raise _FieldError(
            f"holds a malformed tensor ({len(buffer)} bytes of {dtype.str} for shape {tuple(shape)}): {exc}"
        ) from exc
    return array.view(cls)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(tp: Any) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(tp)
    if adapter is None:
        adapter = TypeAdapter(tp)
        _ADAPTERS[tp] = adapter
    return adapter


def _validated(tp: Any, value: Any) -> Any:
    """``parse_obj_as(tp, value)`` without its deprecation warning."""
    try:
        return _adapter(tp).validate_python(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise _FieldError(f"is not a valid {_type_name(tp)}: {errors[0]['msg']}") from exc


_STANDARD_FROM_PROTOBUF: Final = frozenset(_function(cls, "from_protobuf") for cls in (ID, AnyUrl, BaseBytes))


_RegistryReader = Callable[[str, "str | None", Node], Any]
# Keyed by id(class), for the reason _ENCODERS is; registered classes live forever.
_REGISTRY_READERS: dict[int, _RegistryReader] = {}


def _from_registry(cls: type[Any], type_name: str, kind: str | None, node: Node) -> Any:
    """A node whose ``type`` names a registered docarray class: that class' ``from_protobuf``."""
    reader = _REGISTRY_READERS.get(id(cls))
    if reader is None:
        reader = _REGISTRY_READERS.setdefault(id(cls), _registry_reader(cls))
    if kind is None:
        raise _FieldError(f"has type {type_name!r} but no value")
    return reader(type_name, kind, node)


def _registry_reader(cls: type[Any]) -> _RegistryReader:
    if issubclass(cls, NdArray) and _inherits(cls, "from_protobuf", NdArray):

        def read_tensor(type_name: str, kind: str | None, node: Node) -> Any:
            if kind != "ndarray":
                raise _FieldError(f"has type {type_name!r} but holds {_KIND_NAMES[kind]}")
            return _decode_tensor(node.ndarray, cls)

        return read_tensor
    if _function(cls, "from_protobuf") in _STANDARD_FROM_PROTOBUF:
        return lambda type_name, kind, node: _validated(cls, getattr(node, cast(str, kind)))

    def read_other(type_name: str, kind: str | None, node: Node) -> Any:
        try:
            return cls.from_protobuf(getattr(node, cast(str, kind)))
        except (ValueError, TypeError, AttributeError) as exc:
            raise _FieldError(f"cannot be read as {type_name!r}: {exc}") from exc

    return read_other


class _Context:
    """What docarray knows while decoding one node: the types that give nested values a class.

    ``doc_type`` reads ``doc`` content, ``doc_list_type`` ``doc_array`` content, ``item``
    the items of list/set/tuple content, ``value`` the values of dict content. They are
    derived exactly as ``_get_content_from_node_proto`` derives them.
    """

    __slots__ = ("_item", "_item_type", "_value", "_value_type", "declared", "doc_list_type", "doc_type")

    def __init__(self, declared: Any, doc_type: Any, doc_list_type: Any, item_type: Any, value_type: Any):
        self.declared = declared
        self.doc_type = doc_type
        self.doc_list_type = doc_list_type
        self._item_type = item_type
        self._value_type = value_type
        self._item: _Context | None = None
        self._value: _Context | None = None

    @property
    def item(self) -> _Context:
        if self._item is None:
            self._item = _nested_context(self._item_type)
        return self._item

    @property
    def value(self) -> _Context:
        if self._value is None:
            self._value = _nested_context(self._value_type)
        return self._value


def _item_type(tp: Any) -> Any:
    """docarray reads list items with the first argument of a generic alias, else the type itself."""
    if get_origin(tp) is not None:
        args = get_args(tp)
        return args[0] if args else None
    return tp


_NESTED_CONTEXTS: dict[Any, _Context] = {}


def _nested_context(tp: Any) -> _Context:
    """Context for a value inside a list or dict: docarray passes only a type down, no field."""
    try:
        context = _NESTED_CONTEXTS.get(tp)
    except TypeError:  # an unhashable annotation: build it every time
        return _Context(tp, tp, tp, _item_type(tp), None)
    if context is None:
        context = _Context(tp, tp, tp, _item_type(tp), None)
        _NESTED_CONTEXTS[tp] = context
    return context


def _doc_list_origin(tp: Any) -> type[Any] | None:
    """``DocList[X]`` is a typing alias; its origin is the class docarray instantiates."""
    cls = tp if isinstance(tp, type) else get_origin(tp)
    if isinstance(cls, type) and issubclass(cls, AnyDocArray):
        return cls
    return None


def _raw_doc(node: Node, context: _Context) -> Any:
    doc_type = context.doc_type
    if isinstance(doc_type, type) and issubclass(doc_type, BaseDocWithoutId):
        return _plan(doc_type).decode(node.doc)
    raise _FieldError(f"expects {_describe_type(context.declared)}, got a document")


def _raw_doc_list(node: Node, context: _Context) -> Any:
    list_type = context.doc_list_type
    cls = _doc_list_origin(list_type)
    if cls is None:
        raise _FieldError(f"expects {_describe_type(context.declared)}, got a list of documents")
    message = node.doc_array
    if not issubclass(cls, DocList) or not _inherits(cls, "from_protobuf", DocList):
        try:
            return cls.from_protobuf(message)
        except (ValueError, TypeError, AttributeError) as exc:
            raise _FieldError(f"cannot be read as {_type_name(list_type)}: {exc}") from exc
    plan = _plan(cls.doc_type)
    docs = []
    for position, doc in enumerate(message.docs):
        try:
            docs.append(plan.decode(doc))
        except _FieldError as issue:
            issue.at_item(position)
            raise
    return cls(docs, validate_input_docs=False)


def _raw_items(container: document_pb2.ListOfAny, context: _Context) -> list[Any]:
    item = context.item
    values = []
    for position, node in enumerate(container.data):
        try:
            values.append(_raw(node, item))
        except _FieldError as issue:
            issue.at_item(position)
            raise
    return values


def _raw_set(node: Node, context: _Context) -> Any:
    values = _raw_items(node.set, context)
    try:
        return set(values)
    except TypeError as exc:
        raise _FieldError(f"holds a set with an item that cannot be in a set: {exc}") from exc


def _raw_dict(node: Node, context: _Context) -> Any:
    data = node.dict.data
    values: dict[str, Any] = {}
    if not data:
        return values
    value_context = context.value
    # Keys, then look-ups: a protobuf map's items() is a pure-Python view, far slower.
    for key in data:
        try:
            values[key] = _raw(data[key], value_context)
        except _FieldError as issue:
            issue.at_item(key)
            raise
    return values


_RAW: Final[dict[str | None, Callable[[Node, _Context], Any]]] = {
    "text": lambda node, context: node.text,
    "integer": lambda node, context: node.integer,
    "float": lambda node, context: node.float,
    "boolean": lambda node, context: node.boolean,
    "blob": lambda node, context: node.blob,
    "ndarray": lambda node, context: _decode_tensor(node.ndarray, NdArray),
    "doc": _raw_doc,
    "doc_array": _raw_doc_list,
    "list": lambda node, context: _raw_items(node.list, context),
    "set": _raw_set,
    "tuple": lambda node, context: tuple(_raw_items(node.tuple, context)),
    "dict": _raw_dict,
    None: lambda node, context: None,
}


def _raw(node: Node, context: _Context) -> Any:
    """docarray's ``_get_content_from_node_proto``: the value a node holds, before validation."""
    kind = node.WhichOneof("content")
    if node.HasField("type"):
        type_name = node.type
        cls = _PROTO_TYPE_NAME_TO_CLASS.get(type_name)
        if cls is not None:
            return _from_registry(cls, type_name, kind, node)
        if kind not in ("doc", "doc_array", "ndarray", None):
            raise _FieldError(f"has type {type_name!r}, which no installed docarray class reads")
    return _RAW[kind](node, context)


# Coercers: bring a raw value to what pydantic would make of it for the declared
# annotation, or raise _PydanticNeededError when only pydantic can tell.


def _needs_validation(value: Any) -> NoReturn:
    raise _PydanticNeededError(value)


def _exact(tp: type[Any], nullable: bool) -> _Coercer:
    def coerce(value: Any) -> Any:
        if type(value) is tp or (value is None and nullable):
            return value
        raise _PydanticNeededError(value)

    return coerce


def _instance_of(tp: type[Any], nullable: bool) -> _Coercer:
    def coerce(value: Any) -> Any:
        if isinstance(value, tp) or (value is None and nullable):
            return value
        raise _PydanticNeededError(value)

    return coerce


def _items_of(container: type[Any], item: type[Any] | None, nullable: bool) -> _Coercer:
    def coerce(value: Any) -> Any:
        if type(value) is container:
            if item is None:
                return value
            items = value.values() if container is dict else value
            if all(type(one) is item for one in items):
                return value
        elif value is None and nullable:
            return value
        raise _PydanticNeededError(value)

    return coerce


_PLAIN_VALIDATOR_SCHEMAS: Final = frozenset(
    _function(cls, "__get_pydantic_core_schema__") for cls in (ID, AbstractTensor)
)


def _docarray_type_coercer(tp: type[Any], declared: Any, nullable: bool) -> _Coercer:
    """A docarray type: call the validator pydantic would call, directly."""
    plain = _function(tp, "__get_pydantic_core_schema__") in _PLAIN_VALIDATOR_SCHEMAS
    if not plain:
        # URLs and bytes types validate on top of pydantic's str/bytes schema.
        def coerce_adapted(value: Any) -> Any:
            if type(value) is tp or (value is None and nullable):
                return value
            if value is None:
                raise _PydanticNeededError(value)
            try:
                return _adapter(tp).validate_python(value)
            except ValidationError as exc:
                raise _mismatch(declared, value, exc.errors(include_url=False)[0]["msg"]) from exc

        return coerce_adapted
    validate = tp._docarray_validate
    # AnyTensor/AnyEmbedding end in NdArray/NdArrayEmbedding for anything that is not a
    # torch/tf/jax tensor; calling those directly skips the framework checks and spares
    # docarray's print() on failure.
    fallbacks = {AnyTensor: NdArray, AnyEmbedding: NdArrayEmbedding}
    fallback = fallbacks[tp]._docarray_validate if tp in fallbacks else None
    # A value already of the declared (unparametrized numpy) class would only be viewed again.
    keeps_instances = issubclass(tp, NdArray) and _inherits(tp, "_docarray_validate", NdArray)
    unchanged = tp if keeps_instances and tp.__unparametrizedcls__ is None else None

    def coerce(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise _PydanticNeededError(value)
        if type(value) is unchanged:
            return value
        try:
            if fallback is None or (isinstance(value, AbstractTensor) and not isinstance(value, np.ndarray)):
                return validate(value)
            return fallback(value)
        except (ValueError, TypeError) as exc:
            raise _mismatch(declared, value, str(exc)) from exc

    return coerce


_SCALARS: Final = (str, int, float, bool, bytes)


def _coercer(annotation: Any, constrained: bool) -> _Coercer:
    """The coercer for a declared field annotation."""
    if constrained:
        return _needs_validation
    if annotation is Any or annotation is object:
        return lambda value: value
    tp, nullable = _strip_optional(annotation)
    if tp is Any or tp is object:
        return lambda value: value
    if tp in _SCALARS:
        return _exact(tp, nullable)
    if isinstance(tp, type):
        if issubclass(tp, AbstractType):
            return _docarray_type_coercer(tp, annotation, nullable)
        if issubclass(tp, BaseDocWithoutId):
            revalidates = tp.model_config.get("revalidate_instances", "never") != "never"
            return _needs_validation if revalidates else _instance_of(tp, nullable)
    doc_list = _doc_list_origin(tp)
    if doc_list is not None:
        return _instance_of(doc_list, nullable)
    origin = get_origin(tp) or tp
    args = get_args(tp)
    if origin is dict and (not args or (args[0] in (str, Any) and (args[1] is Any or args[1] in _SCALARS))):
        return _items_of(dict, args[1] if args and args[1] is not Any else None, nullable)
    if origin is list and (not args or args[0] is Any or args[0] in _SCALARS):
        return _items_of(list, args[0] if args and args[0] is not Any else None, nullable)
    return _needs_validation


# ------------------------------------------------------------------------ doc plans


class _Plan:
    """How to decode one document class."""

    def decode(self, message: document_pb2.Doc) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


# Model settings that change what pydantic makes of a value this module passes as is.
_VALUE_CHANGING_CONFIG: Final = (
    "str_strip_whitespace",
    "str_to_lower",
    "str_to_upper",
    "str_max_length",
    "str_min_length",
    "validate_default",
)
_PROTOBUF_HOOKS: Final = (
    "from_protobuf",
    "_get_content_from_node_proto",
    "_get_field_annotation",
    "_get_field_annotation_array",
    "_get_field_inner_type",
)


class _DelegatedPlan(_Plan):
    """A class that customises docarray's protobuf hooks: docarray decodes it."""

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls

    def decode(self, message: document_pb2.Doc) -> Any:
        try:
            return self.cls.from_protobuf(message)
        except ValidationError as exc:
            raise _wrap_validation(exc, self.cls, None) from exc
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            issue = _FieldError(f"cannot decode the document: {exc}")
            issue.owner = self.cls.__name__
            raise issue from exc


class _AnyDocPlan(_Plan):
    """``AnyDoc``: every field, its value as the node alone describes it."""

    def __init__(self) -> None:
        fields = AnyDoc.model_fields
        self.new_id = cast(Callable[[], Any], fields["id"].default_factory)
        # Fields AnyDoc declares (only ``id``) read lists through the declared type;
        # all others through AnyDoc itself, as docarray does.
        self.declared = {name: _field_context(AnyDoc, name) for name in fields}
        self.undeclared = _Context(AnyDoc, AnyDoc, DocList, AnyDoc, None)

    def decode(self, message: document_pb2.Doc) -> Any:
        # AnyDoc(**fields) is AnyDoc() (a fresh id, nothing in fields_set) updated with fields.
        values: dict[str, Any] = {"id": None}
        has_id = False
        data = message.data
        for name in data:  # not items(): see _raw_dict
            context = self.declared.get(name, self.undeclared)
            try:
                values[name] = _raw(data[name], context)
            except _FieldError as issue:
                issue.at_field(name, AnyDoc)
                raise
            has_id = has_id or name == "id"
        if not has_id:
            values["id"] = self.new_id()
        doc = AnyDoc.__new__(AnyDoc)
        _set = object.__setattr__
        _set(doc, "__dict__", values)
        _set(doc, "__pydantic_fields_set__", set())
        _set(doc, "__pydantic_extra__", None)
        _set(doc, "__pydantic_private__", None)
        return doc


def _field_context(cls: Any, name: str) -> _Context:
    """The types docarray uses for a declared field, taken from docarray's own helpers."""
    annotation = cls.model_fields[name].annotation
    dict_args = get_args(annotation)

    def ask(helper: str) -> Any:
        # docarray's helpers fail on some annotations (a bare ``None``, say); docarray
        # then cannot decode the field at all, and here nested values get no class.
        try:
            return getattr(cls, helper)(name)
        except (IndexError, KeyError, TypeError):
            return None

    return _Context(
        annotation,
        ask("_get_field_annotation"),
        ask("_get_field_annotation_array"),
        _item_type(ask("_get_field_inner_type")),
        Any if len(dict_args) < 2 else dict_args[1],
    )


def _fast_tensor_class(tp: Any) -> type[Any] | None:
    """The class a numpy tensor becomes in a field of type ``tp``, where that is fixed."""
    if tp is AnyTensor:
        return NdArray
    if tp is AnyEmbedding:
        return NdArrayEmbedding
    if (
        isinstance(tp, type)
        and issubclass(tp, NdArray)
        and tp.__unparametrizedcls__ is None
        and _inherits(tp, "_docarray_validate", NdArray)
    ):
        return tp
    return None


def _uniform_kind(annotation: Any, coerce: _Coercer) -> tuple[str | None, Any]:
    """Which payload a field's decoder turns into its value as it is, for uniform batches.

    ``(_TEXT, str)``: text without a ``type`` is the value; ``(_TEXT, ID)``: text typed
    ``"id"`` becomes an ``ID``; ``(_FLOAT, float)``; ``(_TENSOR, cls)``: a numpy tensor
    becomes a ``cls`` on a copy of its bytes (its row of the batch's copied block). These mirror the fast paths of
    ``_field_decoder``; ``(None, None)`` for every other field (only nodes without a
    payload, None and empty containers, are read for those, through the decoder).
    """
    if coerce is _needs_validation:
        return None, None
    tp = _strip_optional(annotation)[0]
    if tp is str or tp is ID:
        return _TEXT, tp
    if tp is float:
        return _FLOAT, float
    target = _fast_tensor_class(tp)
    if target is not None and _builds_directly(target):
        return _TENSOR, target
    return None, None


def _numpy_tensor_type_names() -> frozenset[str]:
    """The ``type`` names of registered numpy tensor classes read the standard way."""
    return frozenset(
        name
        for name, cls in _PROTO_TYPE_NAME_TO_CLASS.items()
        if issubclass(cls, NdArray) and _inherits(cls, "from_protobuf", NdArray)
    )


# An empty node: a field holding None. Comparing with it is one cheap call (upb
# compares presence first), where reading the content and the type takes two.
_EMPTY_NODE: Final = Node()
# Nodes holding an empty dict or list (``tags={}``), compared with the same way: equal
# means that content, nothing in it, no ``type``.
_EMPTY_CONTAINER_NODES: Final[dict[type[Any], tuple[Node, Callable[[], Any]]]] = {
    dict: (Node(dict=document_pb2.DictOfAny()), dict),
    list: (Node(list=document_pb2.ListOfAny()), list),
}


def _none_is_valid(annotation: Any, coerce: _Coercer) -> bool:
    """Whether an empty node (None) is the field's value as it is, without pydantic."""
    return annotation is Any or (_strip_optional(annotation)[1] and coerce is not _needs_validation)


def _field_decoder(annotation: Any, context: _Context, coerce: _Coercer) -> _Decoder:
    """Field name -> decoder: a fast path for the common kinds, docarray's rules otherwise."""

    tp = _strip_optional(annotation)[0]
    none_is_valid = _none_is_valid(annotation, coerce)

    def decode(node: Node) -> Any:
        # _raw, inlined: this runs for every field without a faster path below.
        if none_is_valid and node == _EMPTY_NODE:
            return None
        kind = node.WhichOneof("content")
        if node.HasField("type"):
            return coerce(_raw(node, context))
        if kind is None and none_is_valid:
            return None
        return coerce(_RAW[kind](node, context))

    if tp is str and coerce is not _needs_validation:

        def decode_text(node: Node) -> Any:
            # Non-empty text means the content is text; the type must still be unset.
            text = node.text
            if text and not node.HasField("type"):
                return text
            return decode(node)

        return decode_text
    if tp is ID and coerce is not _needs_validation:

        def decode_id(node: Node) -> Any:
            if node.type == "id":
                text = node.text
                if text:
                    return ID(text)
            return decode(node)

        return decode_id
    origin = get_origin(tp) or tp
    if (origin is dict or origin is list) and coerce is not _needs_validation:
        empty_node, new_container = _EMPTY_CONTAINER_NODES[origin]

        def decode_container(node: Node) -> Any:
            if node == empty_node:
                return coerce(new_container())
            return decode(node)

        return decode_container
    target = _fast_tensor_class(tp) if coerce is not _needs_validation else None
    if target is not None:
        # Any numpy tensor docarray would read (by its ``type``) and then validate into
        # the declared class ends up as a tensor of the same bytes of class ``target``.
        type_names = _numpy_tensor_type_names()
        if _builds_directly(target):

            def decode_tensor(node: Node) -> Any:
                if node.type in type_names:
                    dense = node.ndarray.dense
                    buffer = dense.buffer
                    dtype = _DTYPES.get(dense.dtype)
                    if buffer and dtype is not None:
                        shape = dense.shape
                        if len(shape) == 1:
                            length = shape[0]
                            if length * dtype.itemsize == len(buffer):
                                return _NEW_ARRAY(target, (length,), dtype, bytearray(buffer))
                        else:
                            dims = tuple(shape)
                            if prod(dims) * dtype.itemsize == len(buffer):
                                return _NEW_ARRAY(target, dims, dtype, bytearray(buffer))
                # Everything else, malformed tensors and None included, takes the careful path.
                return decode(node)

            return decode_tensor

        def decode_tensor_view(node: Node) -> Any:
            if node.type in type_names:
                dense = node.ndarray.dense
                buffer = dense.buffer
                dtype = _DTYPES.get(dense.dtype)
                if buffer and dtype is not None:
                    shape = dense.shape
                    try:
                        array = np.frombuffer(bytearray(buffer), dtype)
                        if len(shape) != 1 or shape[0] != len(array):
                            array = array.reshape(tuple(shape))
                    except ValueError:
                        return decode(node)
                    return array.view(target)
            return decode(node)

        return decode_tensor_view
    return decode


def _is_hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _copying(default: Any) -> Callable[[], Any]:
    """A fresh copy of an unhashable default per document, as pydantic makes one.

    pydantic deep-copies a default it cannot hash and shares one it can. An empty
    ``dict``/``list``/``set`` (exactly those types) deep-copies to a new empty one,
    which the type itself makes far more cheaply.
    """
    if type(default) in (dict, list, set) and not default:
        return cast(Callable[[], Any], type(default))
    return lambda: copy.deepcopy(default)


# How an absent field is filled: a value shared by every document (pydantic shares a
# hashable default), a factory called per document, or only pydantic can tell.
_SHARED: Final = "shared"
_FACTORY: Final = "factory"
_PYDANTIC: Final = "pydantic"


def _absent(info: Any) -> tuple[str, Any]:
    """How pydantic fills an absent field: ``(_SHARED, value)``, ``(_FACTORY, factory)`` or ``(_PYDANTIC, None)``."""
    if info.validate_default:
        return _PYDANTIC, None
    factory = info.default_factory
    if factory is not None:
        takes_data = getattr(info, "default_factory_takes_validated_data", None)
        if takes_data is None:
            takes_data = getattr(info, "default_factory_takes_data", False)
        return (_PYDANTIC, None) if takes_data else (_FACTORY, factory)
    if info.is_required():
        return _PYDANTIC, None
    default = info.default
    if _is_hashable(default):
        return _SHARED, default
    return _FACTORY, _copying(default)


# What pydantic's __init__ sets on a model, in the order it sets them.
_MODEL_SLOTS: Final = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


def _attribute_setter(cls: type[Any], name: str) -> Callable[[Any, Any], None]:
    """``object.__setattr__(obj, name, value)`` for instances of ``cls``, minus the look-up.

    These are slots (data descriptors) of ``BaseModel``; ``object.__setattr__`` finds the
    first one along the MRO and calls its ``__set__``, so this calls that ``__set__``.
    """
    for klass in cls.__mro__:
        namespace = vars(klass)
        if name in namespace:
            found = namespace[name]
            if hasattr(type(found), "__set__"):
                return cast(Callable[[Any, Any], None], found.__set__)
            break
    return lambda obj, value: object.__setattr__(obj, name, value)


class _TypedPlan(_Plan):
    """A schema'd document class: one decoder per declared field, built once.

    Decoding starts from a copy of ``template`` (every field in declaration order,
    shared defaults already in place), overwrites the fields the message holds and
    fills the absent ones that need a fresh default. A message holding few of the
    declared fields is read key by key; a fuller one field by field.
    """

    def __init__(self, cls: Any) -> None:
        self.cls = cls
        config = cls.model_config
        decorators = cls.__pydantic_decorators__
        has_validators = any(
            (
                decorators.validators,
                decorators.field_validators,
                decorators.root_validators,
                decorators.model_validators,
            )
        )
        fields = cls.model_fields
        aliased = any(info.alias or info.validation_alias for info in fields.values())
        # Built without pydantic only when pydantic could not change what we pass in.
        self.construct = not (
            has_validators
            or aliased
            or cls.__init__ is not BaseModel.__init__
            or any(config.get(key) for key in _VALUE_CHANGING_CONFIG)
            or config.get("revalidate_instances", "never") != "never"
            or config.get("allow_inf_nan", True) is False
        )
        self.extra_allowed = config.get("extra") == "allow"
        self.post_init = bool(cls.__pydantic_post_init__)
        # What building a document without pydantic takes, looked up once.
        self.new = cls.__new__
        self.setters = tuple(_attribute_setter(cls, name) for name in _MODEL_SLOTS)
        self.fields: tuple[tuple[str, _Decoder, bool], ...] = ()
        self.decoders: dict[str, _Decoder] = {}
        self.names: frozenset[str] = frozenset(fields)
        self.template: dict[str, Any] = {}
        # Per field, how a uniform batch's payload becomes its value (see _uniform_kind).
        self.uniform: dict[str, tuple[str | None, Any]] = {}
        factories: list[tuple[str, Callable[[], Any]]] = []
        required: list[str] = []
        for name, info in fields.items():
            annotation = info.annotation
            coerce = _coercer(annotation, bool(info.metadata))
            decoder = _field_decoder(annotation, _field_context(cls, name), coerce)
            self.uniform[name] = _uniform_kind(annotation, coerce)
            how, default = _absent(info)
            # A field whose default is None is often sent as None: the loop checks for an
            # empty node itself, sparing the call. (Others, ``id`` say, rarely are.)
            likely_none = how == _SHARED and default is None and _none_is_valid(annotation, coerce)
            self.fields += ((name, decoder, likely_none),)
            self.decoders[name] = decoder
            self.template[name] = default if how == _SHARED else None
            if how == _FACTORY:
                factories.append((name, default))
            elif how == _PYDANTIC:
                required.append(name)
        self.factories = tuple(factories)
        self.tensor_type_names = _numpy_tensor_type_names()
        self.required = tuple(required)
        # Reading the message key by key pays when it holds at most a third of the fields.
        self.sparse_below = len(fields) // 3 + 1

    def decode(self, message: document_pb2.Doc) -> Any:
        # Only declared fields are read. Fields the message has and the class does not
        # declare are dropped without a word, as docarray's from_protobuf drops them
        # (it reads them only for classes with _load_extra_fields_from_protobuf, which
        # are decoded by docarray itself, or AnyDoc, which has its own plan).
        data = message.data
        values = self.template.copy()
        pending = False  # a value only pydantic can judge
        fields_set: set[str]
        if len(data) < self.sparse_below:
            decoders = self.decoders
            present = []
            for name in data:
                decoder = decoders.get(name)
                if decoder is not None:
                    try:
                        values[name] = decoder(data[name])
                    except _PydanticNeededError as needed:
                        values[name] = needed.value
                        pending = True
                    except Exception as exc:
                        # Fail as reading field by field would: on the first field, in
                        # declaration order, that fails.
                        self._raise_first_error(data)
                        if isinstance(exc, _FieldError):
                            exc.at_field(name, self.cls)
                        raise
                    present.append(name)
            fields_set = set(present)
        else:
            missing = None
            for name, decoder, likely_none in self.fields:
                if name in data:
                    node = data[name]
                    if likely_none and node == _EMPTY_NODE:
                        values[name] = None
                        continue
                    try:
                        values[name] = decoder(node)
                    except _PydanticNeededError as needed:
                        values[name] = needed.value
                        pending = True
                    except _FieldError as issue:
                        issue.at_field(name, self.cls)
                        raise
                elif missing is None:
                    missing = [name]
                else:
                    missing.append(name)
            fields_set = set(self.names)
            if missing is not None:
                fields_set.difference_update(missing)
        complete = len(fields_set) == len(values)
        if pending or not self.construct or not (complete or fields_set.issuperset(self.required)):
            return self._validate(values, fields_set)
        if not complete:
            for name, factory in self.factories:
                if name not in fields_set:
                    values[name] = factory()
        cls = self.cls
        doc = self.new(cls)
        set_dict, set_fields_set, set_extra, set_private = self.setters
        set_dict(doc, values)
        set_fields_set(doc, fields_set)
        set_extra(doc, {} if self.extra_allowed else None)
        set_private(doc, None)
        if self.post_init:
            doc.model_post_init(None)
        return doc

    def _raise_first_error(self, data: Any) -> None:
        """Decode the message's declared fields in order; raise what the first failing one raises."""
        for name, decoder, _ in self.fields:
            if name in data:
                try:
                    decoder(data[name])
                except _FieldError as issue:
                    issue.at_field(name, self.cls)
                    raise
                except _PydanticNeededError:
                    pass

    def _validate(self, values: dict[str, Any], fields_set: set[str]) -> Any:
        """docarray's last step, ``cls(**fields)`` with the fields the message holds: pydantic decides."""
        if len(fields_set) != len(values):
            values = {name: value for name, value in values.items() if name in fields_set}
        try:
            return self.cls(**values)
        except ValidationError as exc:
            raise _wrap_validation(exc, self.cls, values) from exc
        except (ValueError, TypeError, AttributeError, KeyError, AssertionError) as exc:
            issue = _FieldError(f"rejects the document: {exc}")
            issue.owner = self.cls.__name__
            raise issue from exc


# ------------------------------------------------------------- uniform batches, decoding


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


def _read_uniform(plan: _TypedPlan, batch: batch_layout.Batch) -> _UniformRead | None:
    """What the documents of ``batch`` hold, or None when the general path must decide.

    Every field is read as the general path reads it, or the batch is refused: payloads
    only where the field's decoder takes them as they are (see ``_uniform_kind``);
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
            except (_FieldError, _PydanticNeededError):
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
            if kind != _TEXT:
                return None
            if target is ID:
                if type_name != "id" or node.payload[0] == node.payload[1]:
                    return None
            elif type_name is not None:
                return None
        elif content == batch_layout.FLOAT:
            if kind != _FLOAT or type_name is not None:
                return None
        elif content == batch_layout.NDARRAY:
            if kind != _TENSOR or type_name not in plan.tensor_type_names:
                return None
            dtype = _DTYPES.get(cast(str, node.dtype))
            if dtype is None:
                try:
                    dtype = _dtype(cast(str, node.dtype))
                except _FieldError:
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
    read.canonical = read.canonical and complete and not plan.post_init and _encodes_fast(plan.cls)
    return read


def _uniform_values(
    data: bytes, batch: batch_layout.Batch, plan: _TypedPlan, name: str, node: batch_layout.NodeShape
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
    dtype = _dtype(cast(str, node.dtype))
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
        _NEW_ARRAY(target, shape, dtype, bytearray(view[offset : offset + stop - start]))
        for offset in range(start, step * batch.size, step)
    ]


def _decode_uniform(data: bytes, plan: _TypedPlan) -> list[Any] | None:
    """The documents of a uniform batch, built as ``_TypedPlan.decode`` builds them; None if not one."""
    batch = batch_layout.match(data, _UNIFORM_MIN_DOCS)
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


def reencodes_unchanged(data: bytes, doc_type: type[BaseDoc]) -> bool:
    """Whether decoding ``data`` as ``doc_type`` and encoding the documents again gives ``data``'s documents.

    True only for uniform batches (see :mod:`docwire_client.batch_layout`) that hold
    exactly ``doc_type``'s fields, each as its encoder writes it, with valid text: then
    an executor that leaves the documents alone may answer with ``data`` itself. False
    says nothing (the general path decides, and raises what is wrong).
    """
    plan = _plan(doc_type)
    if not isinstance(plan, _TypedPlan):
        return False
    batch = batch_layout.match(data, _UNIFORM_MIN_DOCS)
    if batch is None:
        return False
    read = _read_uniform(plan, batch)
    if read is None or not read.canonical:
        return False
    return all(
        batch_layout.texts(batch, cast(tuple[int, int], node.payload)) is not None
        for _, node in read.columns
        if node.content == batch_layout.TEXT
    )


_PLANS: dict[type[Any], _Plan] = {}
# DocList[X] for each X decoded: docarray caches the class too, but reaching it costs
# more than a dict look-up.
_LIST_TYPES: dict[type[Any], type[Any]] = {}


def _plan(cls: type[Any]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _build_plan(cls)
        _PLANS[cls] = plan
    return plan


def _build_plan(cls: type[Any]) -> _Plan:
    if not (isinstance(cls, type) and issubclass(cls, BaseDocWithoutId)):
        raise TypeError(f"doc_type must be a docarray document class, got {cls!r}")
    if cls is AnyDoc:
        return _AnyDocPlan()
    overridden = not all(_inherits(cls, hook, BaseDocWithoutId) for hook in _PROTOBUF_HOOKS)
    if overridden or cls.__pydantic_root_model__ or cls.model_config.get("_load_extra_fields_from_protobuf"):
        return _DelegatedPlan(cls)
    return _TypedPlan(cls)


def decode_doc(message: document_pb2.Doc, doc_type: type[T]) -> T:
    """Decode one ``docwire.v1.Doc`` message (docarray's ``DocProto``) as a ``doc_type``.

    Raises:
        DocumentSchemaError: the message does not fit ``doc_type``; the message names the field.
        TypeError: ``doc_type`` is not a docarray document class.
    """
    plan = _plan(doc_type)
    try:
        return cast(T, plan.decode(message))
    except _FieldError as issue:
        raise _schema_error(issue, None) from None


def decode_docs(data: bytes, doc_type: type[T]) -> DocList[T]:
    """Decode a serialized ``docwire.v1.DocList`` (docarray's ``DocListProto``).

    Returns a ``DocList[doc_type]``, as ``DocList[doc_type].from_protobuf`` would.

    Raises:
        BadRequest: ``data`` is not a serialized document list.
        DocumentSchemaError: a document does not fit ``doc_type``; the message names the
            document's index and the field.
        TypeError: ``doc_type`` is not a docarray document class.
    """
    plan = _plan(doc_type)
    uniform = _decode_uniform(data, plan) if isinstance(plan, _TypedPlan) else None
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
    except _FieldError as issue:
        raise _schema_error(issue, len(docs)) from None
    return _doc_list(doc_type, docs)


def _doc_list(doc_type: type[T], docs: list[Any]) -> DocList[T]:
    list_type = _LIST_TYPES.get(doc_type)
    if list_type is None:
        list_type = _LIST_TYPES[doc_type] = cast(type[Any], get_origin(DocList.__class_getitem__(doc_type)))
    return cast("DocList[T]", list_type(docs, validate_input_docs=False))
