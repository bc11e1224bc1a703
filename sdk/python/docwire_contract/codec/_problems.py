"""What goes wrong while encoding or decoding, and the words for it.

``FieldError`` (a value that does not fit, located by the field path it unwinds through),
``PydanticNeededError``, descriptions of values and types for messages, and the type
checks the rest of the codec shares (``strip_optional``, ``inherits``).
"""

from __future__ import annotations

import types
from typing import Any, Final, Union, get_args, get_origin

import numpy as np
from docarray.array.any_array import AnyDocArray
from docarray.base_doc import AnyDoc
from docarray.base_doc.doc import BaseDocWithoutId
from docarray.typing.tensor.abstract_tensor import AbstractTensor
from pydantic import BaseModel, ValidationError

from docwire_contract.errors import DocumentSchemaError

# The names this module offers the codec's other modules (its internal interface).
__all__ = [
    "KIND_NAMES",
    "FieldError",
    "PydanticNeededError",
    "describe_type",
    "describe_value",
    "inherits",
    "mismatch",
    "name_of_type",
    "plain_function",
    "schema_error",
    "strip_optional",
    "wrap_validation",
]

_NONE_TYPE: Final = type(None)


class FieldError(Exception):
    """A value that does not fit, located by a path that grows while it unwinds."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.path: list[str] = []
        self.owner: str | None = None

    def at_field(self, name: str, owner: type[Any]) -> FieldError:
        self.path.insert(0, name)
        if self.owner is None:
            self.owner = owner.__name__
        return self

    def at_item(self, key: int | str) -> FieldError:
        self.path.insert(0, f"[{key!r}]")
        return self

    def render(self, index: int | None) -> str:
        where = f"document {index}: " if index is not None else ""
        if not self.path:
            return f"{where}{self.owner + ' ' if self.owner else ''}{self.detail}"
        path = "".join(part if part.startswith("[") else f".{part}" for part in self.path)
        return f"{where}field '{path.lstrip('.')}' of {self.owner} {self.detail}"


class PydanticNeededError(Exception):
    """Raised by a field decoder when only pydantic can say what the value becomes."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


KIND_NAMES: Final = {
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


def describe_value(value: Any) -> str:
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


def name_of_type(tp: Any) -> str:
    origin = get_origin(tp)
    if isinstance(origin, type) and issubclass(origin, AnyDocArray):
        return f"{origin.__name__}[{getattr(tp, 'doc_type', AnyDoc).__name__}]"
    if isinstance(tp, type):
        return tp.__name__
    return repr(tp).replace("typing.", "")


def describe_type(tp: Any) -> str:
    """Name what a field expects, for error messages."""
    inner, nullable = strip_optional(tp)
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
    return f"{kind} ({name_of_type(inner)}){suffix}"


def strip_optional(tp: Any) -> tuple[Any, bool]:
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


def wrap_validation(exc: ValidationError, cls: type[Any], values: dict[str, Any] | None) -> FieldError:
    """Turn pydantic's verdict on ``cls(**values)`` into an issue naming the field."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = first["loc"]
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    fields = cls.model_fields if issubclass(cls, BaseModel) else {}
    if not loc:
        issue = FieldError(f"rejects the document: {first['msg']}{more}")
        issue.owner = cls.__name__
        return issue
    name = str(loc[0])
    if first["type"] == "missing" and len(loc) == 1:
        issue = FieldError(f"is required but missing{more}")
    elif len(loc) == 1 and name in fields:
        expects = describe_type(fields[name].annotation)
        got = f", got {describe_value(values.get(name))}" if values is not None else ""
        issue = FieldError(f"expects {expects}{got}: {first['msg']}{more}")
    else:
        issue = FieldError(f"is invalid: {first['msg']}{more}")
    for part in reversed(loc[1:]):
        issue.at_item(part)
    return issue.at_field(name, cls)


def plain_function(owner: Any, name: str) -> Any:
    """The plain function behind a method or classmethod, to tell whether a class overrides it."""
    attribute = getattr(owner, name)
    return getattr(attribute, "__func__", attribute)


def inherits(cls: Any, name: str, base: Any) -> bool:
    """Whether ``cls`` uses ``base``'s implementation of ``name`` unchanged."""
    return plain_function(cls, name) is plain_function(base, name)


def mismatch(declared: Any, value: Any, detail: str) -> FieldError:
    return FieldError(f"expects {describe_type(declared)}, got {describe_value(value)}: {detail}")


def schema_error(issue: FieldError, index: int | None) -> DocumentSchemaError:
    return DocumentSchemaError(issue.render(index))
