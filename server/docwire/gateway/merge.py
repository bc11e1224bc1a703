"""Merging the replies of several executors (upstream branches, or the shards of one) into one request.

The default rule is Jina's reduce (docarray's ``DocumentArray.reduce``), applied to document
messages, so no schema is needed:

* documents are matched by ``id``; the result holds the first reply's documents in its order,
  then those only later replies hold, in theirs;
* for a document in several replies, a field the first leaves empty (absent, None, ``""``,
  empty bytes, an empty list or dict) takes the first non-empty value of a later reply; a
  field the first sets keeps its value;
* document lists (``matches``, ``chunks``, any ``DocList`` field) are reduced the same way,
  recursively: matches with different ids (those of two shards) are concatenated, first
  reply's first; dicts (``tags``) are merged key by key, the first reply's value winning.

Nothing is sorted or cut: a search over ``ALL`` shards returns every shard's matches, as
Jina does without a reduce; give a ``reduce`` hook (``reduce_hook``) to rank and cut them.

The rest of the merged request: the first reply's header, parameters and routes, with the
``__results__`` of every reply, and the routes later replies add (those of executors a
branch ran that the first did not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from docwire_contract.conventions import RESULTS_KEY
from docwire_contract.v1 import document_pb2, request_pb2

__all__ = ["DocsReducer", "docs_of", "merge_replies", "reduce_doc_lists", "with_docs"]

#: Reduces the document lists of several replies into one (the default, or a user's hook).
DocsReducer = Callable[[Sequence[document_pb2.DocList]], document_pb2.DocList]


def docs_of(request: request_pb2.DataRequest) -> document_pb2.DocList:
    """The documents of ``request`` (``data.docs``, or ``data.docs_bytes`` parsed)."""
    if request.data.WhichOneof("documents") == "docs_bytes":
        return document_pb2.DocList.FromString(request.data.docs_bytes)
    return request.data.docs


def with_docs(request: request_pb2.DataRequest, docs: document_pb2.DocList) -> request_pb2.DataRequest:
    """A copy of ``request`` carrying ``docs``."""
    copy = request_pb2.DataRequest()
    copy.header.CopyFrom(request.header)
    if request.HasField("parameters"):
        copy.parameters.CopyFrom(request.parameters)
    copy.routes.extend(request.routes)
    if request.data.WhichOneof("documents") == "docs_bytes":  # replies keep the form of the request
        copy.data.docs_bytes = docs.SerializeToString()
    else:
        copy.data.docs.CopyFrom(docs)
    return copy


def merge_replies(
    replies: Sequence[request_pb2.DataRequest], reducer: DocsReducer | None = None
) -> request_pb2.DataRequest:
    """One request from several successful replies (see the module docstring); the replies are not changed.

    When every reply holds the same document bytes (branches that only returned results, or
    wrote to an index), the documents are not merged but taken as they are.
    """
    first = replies[0]
    if len(replies) == 1:
        return first
    merged = request_pb2.DataRequest()
    merged.CopyFrom(first)
    forms = [_docs_bytes(reply) for reply in replies]
    if reducer is not None or any(form != forms[0] for form in forms[1:]):
        docs = (reducer or reduce_doc_lists)([document_pb2.DocList.FromString(form) for form in forms])
        if first.data.WhichOneof("documents") == "docs_bytes":  # replies keep the form of the request
            merged.data.docs_bytes = docs.SerializeToString()
        else:
            merged.data.docs.CopyFrom(docs)
    _merge_results(merged, replies[1:])
    seen = {route.SerializeToString(deterministic=True) for route in merged.routes}
    for reply in replies[1:]:
        for route in reply.routes:
            key = route.SerializeToString(deterministic=True)
            if key not in seen:
                seen.add(key)
                merged.routes.append(route)
    return merged


def _docs_bytes(request: request_pb2.DataRequest) -> bytes:
    if request.data.WhichOneof("documents") == "docs_bytes":
        return request.data.docs_bytes
    return request.data.docs.SerializeToString()


def _merge_results(merged: request_pb2.DataRequest, others: Sequence[request_pb2.DataRequest]) -> None:
    for reply in others:
        if not reply.HasField("parameters") or RESULTS_KEY not in reply.parameters.fields:
            continue
        results = reply.parameters.fields[RESULTS_KEY].struct_value
        target = merged.parameters.fields[RESULTS_KEY].struct_value
        for key, value in results.fields.items():
            if key not in target.fields:
                target.fields[key].CopyFrom(value)


def reduce_doc_lists(lists: Sequence[document_pb2.DocList]) -> document_pb2.DocList:
    """The default reduce: documents by id, empty fields filled, document lists reduced recursively.

    Reduces into the first list, which it returns (the others are not changed).
    """
    result = lists[0]
    if len(lists) == 1:
        return result
    by_id = {_doc_id(doc): doc for doc in result.docs}
    for later in lists[1:]:
        for doc in later.docs:
            key = _doc_id(doc)
            kept = by_id.get(key) if key else None
            if kept is None:
                added = result.docs.add()
                added.CopyFrom(doc)
                if key:
                    by_id[key] = added
            elif kept != doc:  # an identical document has nothing to fill in
                _fill(kept, doc)
    return result


def _doc_id(doc: document_pb2.Doc) -> str:
    node = doc.data.get("id")
    return node.text if node is not None and node.WhichOneof("content") == "text" else ""


def _fill(kept: document_pb2.Doc, later: document_pb2.Doc) -> None:
    """Fills ``kept``'s empty fields from ``later``; reduces document lists and dicts field by field."""
    fields = kept.data
    for name, node in later.data.items():
        later_kind = node.WhichOneof("content")
        if later_kind is None or _is_empty(node, later_kind):
            continue  # nothing to fill in from it
        mine = fields.get(name)
        kind = None if mine is None else mine.WhichOneof("content")
        if mine is None or kind is None or _is_empty(mine, kind):
            fields[name].CopyFrom(node)
        elif kind != later_kind:
            continue
        elif kind == "doc_array":
            reduce_doc_lists([mine.doc_array, node.doc_array])
        elif kind == "dict":
            own = mine.dict.data
            for key, value in node.dict.data.items():
                if key not in own:
                    own[key].CopyFrom(value)
        elif kind == "doc":
            _fill(mine.doc, node.doc)


def _is_empty(node: document_pb2.Node, kind: str) -> bool:
    if kind in ("text", "blob"):
        return not getattr(node, kind)
    if kind == "doc_array":
        return not node.doc_array.docs
    if kind in ("list", "set", "tuple", "dict"):
        return not getattr(node, kind).data
    return False
