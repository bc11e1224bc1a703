"""Decoding single values: tensors, docarray's registered types, contexts and coercers.

A ``ValueContext`` gives nested values their class; a coercer brings a raw value to what
pydantic would make of it for the declared annotation.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any, Final, NoReturn, cast, get_args, get_origin

import numpy as np
from docarray.array.any_array import AnyDocArray
from docarray.base_doc.doc import BaseDocWithoutId
from docarray.typing import ID, AnyEmbedding, AnyTensor, NdArray, NdArrayEmbedding
from docarray.typing.abstract_type import AbstractType
from docarray.typing.bytes.base_bytes import BaseBytes
from docarray.typing.tensor.abstract_tensor import AbstractTensor
from docarray.typing.url.any_url import AnyUrl
from pydantic import TypeAdapter, ValidationError

from docwire_contract.codec._problems import (
    KIND_NAMES,
    FieldError,
    PydanticNeededError,
    inherits,
    mismatch,
    name_of_type,
    plain_function,
    strip_optional,
)
from docwire_contract.codec._wire import WIRE_CACHE_LIMIT, Node
from docwire_contract.v1 import document_pb2

# The names this module offers the codec's other modules (its internal interface).
__all__ = [
    "DTYPES",
    "NEW_ARRAY",
    "Coercer",
    "ValueContext",
    "builds_directly",
    "coercer_for",
    "decode_tensor_message",
    "doc_list_origin",
    "dtype_of",
    "from_registry",
    "item_type_of",
    "needs_validation",
]

Coercer = Callable[[Any], Any]


DTYPES: dict[str, np.dtype[Any]] = {}


def dtype_of(name: str) -> np.dtype[Any]:
    dtype = DTYPES.get(name)
    if dtype is None:
        try:
            dtype = np.dtype(name)
        except (TypeError, ValueError, SyntaxError) as exc:
            raise FieldError(f"holds a tensor of unknown dtype {name!r}") from exc
        if dtype.hasobject or dtype.itemsize == 0:
            raise FieldError(f"holds a tensor of dtype {name!r}, which cannot travel as bytes")
        if len(DTYPES) < WIRE_CACHE_LIMIT:
            DTYPES[name] = dtype
    return dtype


# ``ndarray.__new__(cls, shape, dtype, buffer)`` builds the tensor straight on the copied
# bytes: one object, where ``np.frombuffer(...).view(cls)`` leaves three behind (an
# array, a memoryview and its managed buffer, the last two tracked by the garbage
# collector). Same class, shape, dtype, data and flags; only ``.base`` differs (the
# bytearray itself). Used for classes that keep numpy's ``__array_finalize__``, which
# is what ``view`` would have called.
NEW_ARRAY: Final = np.ndarray.__new__
_PLAIN_FINALIZE: Final = np.ndarray.__array_finalize__


def builds_directly(cls: type[Any]) -> bool:
    """Whether tensors of ``cls`` can be built with ``ndarray.__new__`` instead of a view."""
    return cls.__array_finalize__ is _PLAIN_FINALIZE


def decode_tensor_message(message: document_pb2.NdArray, cls: type[Any]) -> Any:
    """An ``NdArray`` message -> a writable array viewed as the numpy tensor class ``cls``."""
    dense = message.dense
    buffer = dense.buffer
    dtype = dtype_of(dense.dtype)
    shape = dense.shape
    if buffer and builds_directly(cls):
        dims = tuple(shape)
        if prod(dims) * dtype.itemsize == len(buffer):
            return NEW_ARRAY(cls, dims, dtype, bytearray(buffer))
        # Otherwise numpy says what is wrong, below.
    try:
        if buffer:
            array = np.frombuffer(bytearray(buffer), dtype)
            if len(shape) != 1 or shape[0] != array.shape[0]:
                array = array.reshape(tuple(shape))
        elif shape and 0 in shape:
            array = np.empty(tuple(shape), dtype=dtype)
        elif shape:
            raise FieldError(f"holds a tensor of shape {tuple(shape)} without data")
        else:
            raise FieldError("holds a tensor with neither data nor shape")
    except ValueError as exc:
        raise FieldError(
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
        raise FieldError(f"is not a valid {name_of_type(tp)}: {errors[0]['msg']}") from exc


_STANDARD_FROM_PROTOBUF: Final = frozenset(plain_function(cls, "from_protobuf") for cls in (ID, AnyUrl, BaseBytes))


_RegistryReader = Callable[[str, "str | None", Node], Any]
# Keyed by id(class), for the reason ENCODERS is; registered classes live forever.
_REGISTRY_READERS: dict[int, _RegistryReader] = {}


def from_registry(cls: type[Any], type_name: str, kind: str | None, node: Node) -> Any:
    """A node whose ``type`` names a registered docarray class: that class' ``from_protobuf``."""
    reader = _REGISTRY_READERS.get(id(cls))
    if reader is None:
        reader = _REGISTRY_READERS.setdefault(id(cls), _registry_reader(cls))
    if kind is None:
        raise FieldError(f"has type {type_name!r} but no value")
    return reader(type_name, kind, node)


def _registry_reader(cls: type[Any]) -> _RegistryReader:
    if issubclass(cls, NdArray) and inherits(cls, "from_protobuf", NdArray):

        def read_tensor(type_name: str, kind: str | None, node: Node) -> Any:
            if kind != "ndarray":
                raise FieldError(f"has type {type_name!r} but holds {KIND_NAMES[kind]}")
            return decode_tensor_message(node.ndarray, cls)

        return read_tensor
    if plain_function(cls, "from_protobuf") in _STANDARD_FROM_PROTOBUF:
        return lambda type_name, kind, node: _validated(cls, getattr(node, cast(str, kind)))

    def read_other(type_name: str, kind: str | None, node: Node) -> Any:
        try:
            return cls.from_protobuf(getattr(node, cast(str, kind)))
        except (ValueError, TypeError, AttributeError) as exc:
            raise FieldError(f"cannot be read as {type_name!r}: {exc}") from exc

    return read_other


class ValueContext:
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
        self._item: ValueContext | None = None
        self._value: ValueContext | None = None

    @property
    def item(self) -> ValueContext:
        if self._item is None:
            self._item = _nested_context(self._item_type)
        return self._item

    @property
    def value(self) -> ValueContext:
        if self._value is None:
            self._value = _nested_context(self._value_type)
        return self._value


def item_type_of(tp: Any) -> Any:
    """docarray reads list items with the first argument of a generic alias, else the type itself."""
    if get_origin(tp) is not None:
        args = get_args(tp)
        return args[0] if args else None
    return tp


_NESTED_CONTEXTS: dict[Any, ValueContext] = {}


def _nested_context(tp: Any) -> ValueContext:
    """Context for a value inside a list or dict: docarray passes only a type down, no field."""
    try:
        context = _NESTED_CONTEXTS.get(tp)
    except TypeError:  # an unhashable annotation: build it every time
        return ValueContext(tp, tp, tp, item_type_of(tp), None)
    if context is None:
        context = ValueContext(tp, tp, tp, item_type_of(tp), None)
        _NESTED_CONTEXTS[tp] = context
    return context


def doc_list_origin(tp: Any) -> type[Any] | None:
    """``DocList[X]`` is a typing alias; its origin is the class docarray instantiates."""
    cls = tp if isinstance(tp, type) else get_origin(tp)
    if isinstance(cls, type) and issubclass(cls, AnyDocArray):
        return cls
    return None


# Coercers: bring a raw value to what pydantic would make of it for the declared
# annotation, or raise PydanticNeededError when only pydantic can tell.


def needs_validation(value: Any) -> NoReturn:
    raise PydanticNeededError(value)


def _exact(tp: type[Any], nullable: bool) -> Coercer:
    def coerce(value: Any) -> Any:
        if type(value) is tp or (value is None and nullable):
            return value
        raise PydanticNeededError(value)

    return coerce


def _instance_of(tp: type[Any], nullable: bool) -> Coercer:
    def coerce(value: Any) -> Any:
        if isinstance(value, tp) or (value is None and nullable):
            return value
        raise PydanticNeededError(value)

    return coerce


def _items_of(container: type[Any], item: type[Any] | None, nullable: bool) -> Coercer:
    def coerce(value: Any) -> Any:
        if type(value) is container:
            if item is None:
                return value
            items = value.values() if container is dict else value
            if all(type(one) is item for one in items):
                return value
        elif value is None and nullable:
            return value
        raise PydanticNeededError(value)

    return coerce


_PLAIN_VALIDATOR_SCHEMAS: Final = frozenset(
    plain_function(cls, "__get_pydantic_core_schema__") for cls in (ID, AbstractTensor)
)


def _docarray_type_coercer(tp: type[Any], declared: Any, nullable: bool) -> Coercer:
    """A docarray type: call the validator pydantic would call, directly."""
    plain = plain_function(tp, "__get_pydantic_core_schema__") in _PLAIN_VALIDATOR_SCHEMAS
    if not plain:
        # URLs and bytes types validate on top of pydantic's str/bytes schema.
        def coerce_adapted(value: Any) -> Any:
            if type(value) is tp or (value is None and nullable):
                return value
            if value is None:
                raise PydanticNeededError(value)
            try:
                return _adapter(tp).validate_python(value)
            except ValidationError as exc:
                raise mismatch(declared, value, exc.errors(include_url=False)[0]["msg"]) from exc

        return coerce_adapted
    validate = tp._docarray_validate
    # AnyTensor/AnyEmbedding end in NdArray/NdArrayEmbedding for anything that is not a
    # torch/tf/jax tensor; calling those directly skips the framework checks and spares
    # docarray's print() on failure.
    fallbacks = {AnyTensor: NdArray, AnyEmbedding: NdArrayEmbedding}
    fallback = fallbacks[tp]._docarray_validate if tp in fallbacks else None
    # A value already of the declared (unparametrized numpy) class would only be viewed again.
    keeps_instances = issubclass(tp, NdArray) and inherits(tp, "_docarray_validate", NdArray)
    unchanged = tp if keeps_instances and tp.__unparametrizedcls__ is None else None

    def coerce(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise PydanticNeededError(value)
        if type(value) is unchanged:
            return value
        try:
            if fallback is None or (isinstance(value, AbstractTensor) and not isinstance(value, np.ndarray)):
                return validate(value)
            return fallback(value)
        except (ValueError, TypeError) as exc:
            raise mismatch(declared, value, str(exc)) from exc

    return coerce


_SCALARS: Final = (str, int, float, bool, bytes)


def coercer_for(annotation: Any, constrained: bool) -> Coercer:
    """The coercer for a declared field annotation."""
    if constrained:
        return needs_validation
    if annotation is Any or annotation is object:
        return lambda value: value
    tp, nullable = strip_optional(annotation)
    if tp is Any or tp is object:
        return lambda value: value
    if tp in _SCALARS:
        return _exact(tp, nullable)
    if isinstance(tp, type):
        if issubclass(tp, AbstractType):
            return _docarray_type_coercer(tp, annotation, nullable)
        if issubclass(tp, BaseDocWithoutId):
            revalidates = tp.model_config.get("revalidate_instances", "never") != "never"
            return needs_validation if revalidates else _instance_of(tp, nullable)
    doc_list = doc_list_origin(tp)
    if doc_list is not None:
        return _instance_of(doc_list, nullable)
    origin = get_origin(tp) or tp
    args = get_args(tp)
    if origin is dict and (not args or (args[0] in (str, Any) and (args[1] is Any or args[1] in _SCALARS))):
        return _items_of(dict, args[1] if args and args[1] is not Any else None, nullable)
    if origin is list and (not args or args[0] is Any or args[0] in _SCALARS):
        return _items_of(list, args[0] if args and args[0] is not Any else None, nullable)
    return needs_validation
