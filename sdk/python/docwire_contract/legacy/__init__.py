"""docarray v1 documents (``docarray<0.30``, as clip_client 0.8.3 sends them) and docwire's, both ways.

jina's client sends ``jina.DataRequestProto``, the same envelope as ``docwire.v1.DataRequest``,
with docarray v1's ``DocumentProto`` documents when docarray v1 is installed beside it (seed 001's
clip_client needs it) and with v2's ``DocProto`` otherwise. Nothing but the documents tells them
apart: ``is_legacy_request`` reads the first document's first field. The gateway's ``jina.*``
handlers can then translate at the edge: ``request_from_legacy`` before the core,
``reply_to_legacy`` after it, so executors only ever see docwire's documents.
Field numbers and the mapping: docs/legacy-docarray.md.

* v1 -> docwire: id, text, uri, blob, tensor, embedding, tags, scores (their values), matches and
  chunks become the nodes docwire's ``Document`` declares; granularity, adjacency, parent_id,
  weight, modality, mime_type, offset, location, evaluations and _metadata are dropped; a sparse
  tensor is refused (``BadRequest``).
* docwire -> v1: the same fields back, arrays with ``cls_name: "numpy"`` (docarray v1 reads an
  array without it as None), ``uri`` from ``uri`` or else ``url``, scores as ``NamedScoreProto``.
"""

from __future__ import annotations

from docwire_contract.legacy._reading import doc_from_legacy, doc_list_from_legacy
from docwire_contract.legacy._requests import (
    is_legacy_doc_list,
    is_legacy_request,
    reply_to_legacy,
    request_from_legacy,
    requests_of_list,
)
from docwire_contract.legacy._writing import doc_list_to_legacy, doc_to_legacy

__all__ = [
    "doc_from_legacy",
    "doc_list_from_legacy",
    "doc_list_to_legacy",
    "doc_to_legacy",
    "is_legacy_doc_list",
    "is_legacy_request",
    "reply_to_legacy",
    "request_from_legacy",
    "requests_of_list",
]
