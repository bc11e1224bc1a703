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

import importlib
import inspect
import traceback
import typing
from collections.abc import Sequence

from docwire.gateway.merge import DocsReducer
from docwire.gateway.topology import ReduceHook
from docwire_contract import codec
from docwire_contract.v1 import document_pb2, request_pb2

__all__ = ["ReduceHookFailed", "hook_reducer"]


class ReduceHookFailed(Exception):
    """A reduce hook raised: ``reply(request)`` is the error reply the request gets, naming the hook's executor."""

    def __init__(self, status: request_pb2.Status) -> None:
        super().__init__(status.description)
        self.status = status

    def reply(self, request: request_pb2.DataRequest) -> bytes:
        """``request`` serialized with this failure as its status."""
        failed = request_pb2.DataRequest()
        failed.CopyFrom(request)
        failed.header.status.CopyFrom(self.status)
        return failed.SerializeToString()


def hook_reducer(hook: ReduceHook | str, executor: str) -> DocsReducer:
    """The ``DocsReducer`` that runs ``hook`` (or the function ``"module.function"`` names) on decoded lists.

    The reducer raises ``ReduceHookFailed`` when the hook raises (its status names ``executor``).

    Raises:
        ImportError: ``hook`` names a function that cannot be imported.
        TypeError: ``hook`` takes no argument, or is not callable.
    """
    if isinstance(hook, str):
        module, _, name = hook.rpartition(".")
        found = getattr(importlib.import_module(module), name, None) if module else None
        if found is None:
            raise ImportError(f"reduce {hook!r}: no function by that name; give 'module.function'")
        hook = found
    if not callable(hook):
        raise TypeError(f"reduce {hook!r} is not a function")
    doc_type = _doc_type_of(hook)
    function = hook
    decode_docs, encode_docs = codec.decode_docs, codec.encode_docs  # docarray: loaded only where a hook is set

    def reduce(lists: Sequence[document_pb2.DocList]) -> document_pb2.DocList:
        try:
            matrix = [decode_docs(docs.SerializeToString(), doc_type) for docs in lists]
            merged = function(matrix)
            return document_pb2.DocList.FromString(encode_docs(merged if merged is not None else matrix[0]))
        except Exception as exc:  # user code: its failure becomes the request's error status
            status = request_pb2.Status(code=request_pb2.Status.CODE_ERROR, description=repr(exc))
            status.exception.name = type(exc).__name__
            status.exception.args.extend(str(a) for a in exc.args)
            status.exception.stacks.extend(traceback.format_exception(exc))
            status.exception.executor = f"{executor} (reduce)"
            raise ReduceHookFailed(status) from exc

    return reduce


def _doc_type_of(hook: ReduceHook) -> type[typing.Any]:
    # The document classes come with docarray, which a gateway with no hook never loads.
    from docwire_contract.doc_types import Document, document_class  # noqa: PLC0415

    parameters = list(inspect.signature(hook).parameters.values())
    if not parameters:
        raise TypeError(f"reduce hook {hook!r} must take one argument: the list of DocLists to merge")
    try:
        hints = typing.get_type_hints(hook)
    except (NameError, TypeError):
        hints = {}
    return document_class(hints.get(parameters[0].name)) or Document
