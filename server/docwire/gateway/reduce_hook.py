"""A user's ``reduce`` hook, run by the gateway in place of the default merge of document lists.

The hook is a plain function given to ``Flow.add(..., reduce=fn)``::

    def best_first(docs_matrix: list[DocList[MyDoc]]) -> DocList[MyDoc]:
        ...

It gets one ``DocList`` per upstream reply (in ``needs`` order), or per shard (in shard
order) for an ``ALL``-polled endpoint, decoded into the class its first parameter's
annotation names (``docwire.Document`` when it names none), and returns the merged list.
Only the documents change hands: parameters, ``__results__`` and routes are merged by the
gateway as usual (``merge``).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Sequence

from docwire.gateway.merge import DocsReducer
from docwire.gateway.topology import ReduceHook
from docwire_contract.codec import decode_docs, encode_docs
from docwire_contract.doc_types import Document, document_class
from docwire_contract.v1 import document_pb2

__all__ = ["hook_reducer"]


def hook_reducer(hook: ReduceHook) -> DocsReducer:
    """The ``DocsReducer`` that runs ``hook`` on decoded document lists (see the module docstring)."""
    doc_type = _doc_type_of(hook)

    def reduce(lists: Sequence[document_pb2.DocList]) -> document_pb2.DocList:
        matrix = [decode_docs(docs.SerializeToString(), doc_type) for docs in lists]
        merged = hook(matrix)
        return document_pb2.DocList.FromString(encode_docs(merged if merged is not None else matrix[0]))

    return reduce


def _doc_type_of(hook: ReduceHook) -> type[typing.Any]:
    parameters = list(inspect.signature(hook).parameters.values())
    if not parameters:
        raise TypeError(f"reduce hook {hook!r} must take one argument: the list of DocLists to merge")
    try:
        hints = typing.get_type_hints(hook)
    except (NameError, TypeError):
        hints = {}
    return document_class(hints.get(parameters[0].name)) or Document
