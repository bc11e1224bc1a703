"""Reading document classes out of annotations: ``X``, ``DocList[X]``, ``Optional[...]``, unions."""

from __future__ import annotations

import base64
import functools
import inspect
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from docarray import BaseDoc, DocList
from docarray.documents.legacy import LegacyDocument
from docarray.typing.tensor.abstract_tensor import AbstractTensor

T = TypeVar("T", bound=BaseDoc)


class Document(LegacyDocument):
    """The default document: id, text, url, blob, tensor, embedding, tags, scores, matches, chunks.

    What an untyped executor endpoint receives and what the client decodes replies
    into unless told otherwise. (A subclass, not LegacyDocument itself: docarray
    builds ``DocList[LegacyDocument]`` before that class is complete, so its
    column access such as ``docs.text`` is missing; a subclass gets it.)

    ``uri`` is the incumbent's name for where the content lives (its curl examples send
    ``{"uri": "https://..."}``); docarray's legacy document calls it ``url``, kept too.
    """

    uri: str | None = None


__all__ = [
    "Document",
    "bytes_fields",
    "bytes_from_json",
    "doclist_of",
    "document_class",
    "from_json_values",
    "holds_bytes",
    "return_doc_class",
]


def document_class(annotation: Any) -> type[BaseDoc] | None:
    """The document class an annotation names, or None when it names none.

    ``DocList[X]`` is a typing alias in docarray 0.41, so its origin and argument
    are read rather than its class.
    """
    if annotation is None:
        return None
    if inspect.isclass(annotation):
        if issubclass(annotation, BaseDoc):
            return annotation
        if issubclass(annotation, DocList):
            doc_type = getattr(annotation, "doc_type", None)
            return doc_type if inspect.isclass(doc_type) and issubclass(doc_type, BaseDoc) else None
        return None
    origin = typing.get_origin(annotation)
    if inspect.isclass(origin) and issubclass(origin, DocList):
        args = typing.get_args(annotation)
        return document_class(args[0]) if args else None
    for arg in typing.get_args(annotation):
        found = document_class(arg)
        if found is not None:
            return found
    return None


def return_doc_class(return_type: Any) -> type[BaseDoc]:
    """The class replies are decoded into for a client's ``return_type``; Document by default.

    Raises:
        TypeError: ``return_type`` names no document class.
    """
    if return_type is None:
        return Document
    found = document_class(return_type)
    if found is None:
        raise TypeError(f"return_type must be a document class or DocList[...], not {return_type!r}")
    return found


def doclist_of(doc_type: type[T], docs: Iterable[T] = ()) -> DocList[T]:
    """``DocList[doc_type](docs)`` for a class known only at run time."""
    return list_class(doc_type)(docs)


#: ``DocList[X]`` for each X asked for: docarray caches the class too, but reaching it through
#: ``DocList[X]`` (a typing alias) costs ~6 µs, more than a small request's list itself.
_LIST_CLASSES: dict[type[Any], type[Any]] = {}


def list_class(doc_type: type[T]) -> type[DocList[T]]:
    """The class ``DocList[doc_type]`` for a class known only at run time (cached)."""
    found = _LIST_CLASSES.get(doc_type)
    if found is None:
        found = _LIST_CLASSES[doc_type] = typing.get_origin(DocList.__class_getitem__(doc_type))
    return typing.cast("type[DocList[T]]", found)


def holds_bytes(annotation: Any) -> bool:
    """Whether a field holds ``bytes`` (or a bytes type such as docarray's ImageBytes), optional or not."""
    if inspect.isclass(annotation):
        return issubclass(annotation, bytes)
    return any(holds_bytes(arg) for arg in typing.get_args(annotation))


def bytes_from_json(name: str, text: str) -> bytes:
    """A bytes field's JSON value (base64 text) as bytes; line breaks and spaces in it are skipped
    (the ``base64`` command wraps its output, and seed 001 pastes that into JSON).

    Raises:
        ValueError: the text is not base64; the message names the field.
    """
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except ValueError as exc:
        raise ValueError(f"{name}: a bytes field takes base64 text ({exc})") from exc


def holds_tensor(annotation: Any) -> bool:
    """Whether a field holds a tensor (docarray's AnyTensor, NdArray, AnyEmbedding, ...), optional or not."""
    if inspect.isclass(annotation):
        return issubclass(annotation, AbstractTensor)
    return any(holds_tensor(arg) for arg in typing.get_args(annotation))


@functools.cache
def tensor_fields(doc_type: type[BaseDoc]) -> frozenset[str]:
    """The fields of ``doc_type`` that hold tensors (read once per class)."""
    return frozenset(name for name, field in doc_type.model_fields.items() if holds_tensor(field.annotation))


@functools.cache
def bytes_fields(doc_type: type[BaseDoc]) -> frozenset[str]:
    """The fields of ``doc_type`` that hold bytes (read once per class)."""
    return frozenset(name for name, field in doc_type.model_fields.items() if holds_bytes(field.annotation))


@functools.cache
def _nested_documents(doc_type: type[BaseDoc]) -> tuple[tuple[str, type[BaseDoc]], ...]:
    """The fields of ``doc_type`` that hold documents, with their classes (read once per class)."""
    found = ((name, document_class(field.annotation)) for name, field in doc_type.model_fields.items())
    return tuple((name, nested) for name, nested in found if nested is not None)


def from_json_values(doc_type: type[BaseDoc], obj: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object's values as ``doc_type``'s fields take them: bytes fields arrive as base64 text (protobuf's
    JSON mapping, and what docwire's replies carry) and are decoded, nested documents included.

    Raises:
        ValueError: a bytes field's text is not base64; the message names the field.
    """
    values = dict(obj)
    for name in bytes_fields(doc_type):
        value = values.get(name)
        if isinstance(value, str):
            values[name] = bytes_from_json(name, value)
    for name, nested in _nested_documents(doc_type):
        value = values.get(name)
        if isinstance(value, Mapping):
            values[name] = from_json_values(nested, value)
        elif isinstance(value, list):
            values[name] = [from_json_values(nested, item) if isinstance(item, Mapping) else item for item in value]
    return values
