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

from docwire_contract.codec.problems import _inherits, _strip_optional
from docwire_contract.codec.uniform_encoding import _FLOAT, _TENSOR, _TEXT
from docwire_contract.codec.values import _builds_directly, _Coercer, _Context, _item_type, _needs_validation
from docwire_contract.codec.wire import Node
from docwire_contract.v1 import document_pb2


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
