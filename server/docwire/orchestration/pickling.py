"""Pickling a worker's spec, including executor classes defined in ``__main__``.

cloudpickle sends classes that cannot be imported by name (a script's own
executors) by value. docarray's ``DocList[X]`` does not survive that on its own:
it is a typing alias over a cached subclass, and rebuilding it by subscripting
that subclass fails. We rebuild both through ``DocList[X]`` instead.
"""

from __future__ import annotations

import inspect
import io
import typing
from typing import Any

import cloudpickle
from docarray import DocList
from docarray.base_doc import AnyDoc

__all__ = ["dumps"]


def typed_doclist_alias(doc_type: type) -> Any:
    """``DocList[doc_type]`` as annotations spell it."""
    return DocList[doc_type]  # type: ignore[valid-type]


def typed_doclist_class(doc_type: type) -> Any:
    """The class behind ``DocList[doc_type]``."""
    return typing.get_origin(DocList[doc_type])  # type: ignore[valid-type]


class _SpecPickler(cloudpickle.Pickler):  # type: ignore[misc]
    def reducer_override(self, obj: Any) -> Any:
        origin = typing.get_origin(obj)
        if inspect.isclass(origin) and issubclass(origin, DocList) and typing.get_args(obj):
            return typed_doclist_alias, (typing.get_args(obj)[0],)
        if inspect.isclass(obj) and issubclass(obj, DocList) and obj is not DocList:
            doc_type = getattr(obj, "doc_type", AnyDoc)
            if doc_type is not AnyDoc:
                return typed_doclist_class, (doc_type,)
        return super().reducer_override(obj)


def dumps(obj: object) -> bytes:
    """Pickles ``obj`` with cloudpickle, handling docarray's typed DocLists."""
    buffer = io.BytesIO()
    _SpecPickler(buffer).dump(obj)
    return buffer.getvalue()
