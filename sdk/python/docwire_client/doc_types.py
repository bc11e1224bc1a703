"""Reading document classes out of annotations: ``X``, ``DocList[X]``, ``Optional[...]``, unions."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable
from typing import Any, TypeVar

from docarray import BaseDoc, DocList
from docarray.documents.legacy import LegacyDocument

T = TypeVar("T", bound=BaseDoc)


class Document(LegacyDocument):
    """The default document: id, text, url, blob, tensor, embedding, tags, scores, matches, chunks.

    What an untyped executor endpoint receives and what the client decodes replies
    into unless told otherwise. (A subclass, not LegacyDocument itself: docarray
    builds ``DocList[LegacyDocument]`` before that class is complete, so its
    column access such as ``docs.text`` is missing; a subclass gets it.)
    """


__all__ = ["Document", "doclist_of", "document_class", "return_doc_class"]


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
    typed: Any = DocList.__class_getitem__(doc_type)
    result: DocList[T] = typed(docs)
    return result
