"""What a document plan knows of each declared field, worked out once per class.

The types docarray reads a field with, its fast tensor class and uniform-batch kind, how
pydantic fills it when absent, and how pydantic's slots are set on a document built
without pydantic.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Final, cast, get_args

from docarray.typing import ID, AnyEmbedding, AnyTensor, NdArray, NdArrayEmbedding
from docarray.typing.proto_register import _PROTO_TYPE_NAME_TO_CLASS

from docwire_contract.codec import _batch_layout as batch_layout
from docwire_contract.codec._problems import inherits, strip_optional
from docwire_contract.codec._values import Coercer, ValueContext, builds_directly, item_type_of, needs_validation
from docwire_contract.codec._wire import Node
from docwire_contract.v1 import document_pb2

# The names this module offers the codec's other modules (its internal interface).
__all__ = [
    "EMPTY_CONTAINER_NODES",
    "EMPTY_NODE",
    "FACTORY",
    "MODEL_SLOTS",
    "PYDANTIC",
    "SHARED",
    "absent_value",
    "accepts_none",
    "attribute_setter",
    "fast_tensor_class",
    "field_context",
    "numpy_tensor_type_names",
    "uniform_kind",
]


def field_context(cls: Any, name: str) -> ValueContext:
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

    return ValueContext(
        annotation,
        ask("_get_field_annotation"),
        ask("_get_field_annotation_array"),
        item_type_of(ask("_get_field_inner_type")),
        Any if len(dict_args) < 2 else dict_args[1],
    )


def fast_tensor_class(tp: Any) -> type[Any] | None:
    """The class a numpy tensor becomes in a field of type ``tp``, where that is fixed."""
    if tp is AnyTensor:
        return NdArray
    if tp is AnyEmbedding:
        return NdArrayEmbedding
    if (
        isinstance(tp, type)
        and issubclass(tp, NdArray)
        and tp.__unparametrizedcls__ is None
        and inherits(tp, "_docarray_validate", NdArray)
    ):
        return tp
    return None


def uniform_kind(annotation: Any, coerce: Coercer) -> tuple[str | None, Any]:
    """Which payload a field's decoder turns into its value as it is, for uniform batches.

    ``(batch_layout.TEXT, str)``: text without a ``type`` is the value; ``(batch_layout.TEXT, ID)``: text typed
    ``"id"`` becomes an ``ID``; ``(batch_layout.FLOAT, float)``; ``(batch_layout.NDARRAY, cls)``: a numpy tensor
    becomes a ``cls`` on a copy of its bytes (its row of the batch's copied block). These mirror the fast paths of
    ``_field_decoder``; ``(None, None)`` for every other field (only nodes without a
    payload, None and empty containers, are read for those, through the decoder).
    """
    if coerce is needs_validation:
        return None, None
    tp = strip_optional(annotation)[0]
    if tp is str or tp is ID:
        return batch_layout.TEXT, tp
    if tp is float:
        return batch_layout.FLOAT, float
    target = fast_tensor_class(tp)
    if target is not None and builds_directly(target):
        return batch_layout.NDARRAY, target
    return None, None


def numpy_tensor_type_names() -> frozenset[str]:
    """The ``type`` names of registered numpy tensor classes read the standard way."""
    return frozenset(
        name
        for name, cls in _PROTO_TYPE_NAME_TO_CLASS.items()
        if issubclass(cls, NdArray) and inherits(cls, "from_protobuf", NdArray)
    )


# An empty node: a field holding None. Comparing with it is one cheap call (upb
# compares presence first), where reading the content and the type takes two.
EMPTY_NODE: Final = Node()
# Nodes holding an empty dict or list (``tags={}``), compared with the same way: equal
# means that content, nothing in it, no ``type``.
EMPTY_CONTAINER_NODES: Final[dict[type[Any], tuple[Node, Callable[[], Any]]]] = {
    dict: (Node(dict=document_pb2.DictOfAny()), dict),
    list: (Node(list=document_pb2.ListOfAny()), list),
}


def accepts_none(annotation: Any, coerce: Coercer) -> bool:
    """Whether an empty node (None) is the field's value as it is, without pydantic."""
    return annotation is Any or (strip_optional(annotation)[1] and coerce is not needs_validation)


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
SHARED: Final = "shared"
FACTORY: Final = "factory"
PYDANTIC: Final = "pydantic"


def absent_value(info: Any) -> tuple[str, Any]:
    """How pydantic fills an absent field: ``(SHARED, value)``, ``(FACTORY, factory)`` or ``(PYDANTIC, None)``."""
    if info.validate_default:
        return PYDANTIC, None
    factory = info.default_factory
    if factory is not None:
        takes_data = getattr(info, "default_factory_takes_validated_data", None)
        if takes_data is None:
            takes_data = getattr(info, "default_factory_takes_data", False)
        return (PYDANTIC, None) if takes_data else (FACTORY, factory)
    if info.is_required():
        return PYDANTIC, None
    default = info.default
    if _is_hashable(default):
        return SHARED, default
    return FACTORY, _copying(default)


# What pydantic's __init__ sets on a model, in the order it sets them.
MODEL_SLOTS: Final = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


def attribute_setter(cls: type[Any], name: str) -> Callable[[Any, Any], None]:
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
