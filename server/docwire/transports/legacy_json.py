"""docarray v1 documents as JSON (jina's HTTP client with docarray<0.30, as clip_client 0.8.3 runs it), both ways.

jina's HTTP client posts each document as docarray v1's ``Document.to_dict()``: every field of
v1's document is present, the unset ones ``null`` (``"tags": null``, ``"matches": null``), and
scores are objects (``{"cosine": {"value": 0.1, "op_name": null, ...}}``). It reads the reply's
``data`` back with ``DocumentArray.from_dict``, which wants the same shapes. docwire's own JSON
documents are plain (``tags`` a dict, ``scores`` name -> number), so a v1 request is recognised by
its documents and translated at the transport edge, request and reply alike, as
``docwire_contract.legacy`` does for the same documents in protobuf:

* **Recognised**: a request whose first document carries every one of the nine fields that only
  docarray v1's document has (``V1_ONLY_FIELDS``) and that its ``to_dict()`` always writes. No
  document schema docwire serves is expected to declare all nine; any other request is docwire's
  JSON, read as before (so ``"tags": null`` there is still a 422 naming the field).
* **In** (v1 -> docwire's ``Document`` JSON): ``null`` means absent; ``id``, ``text``, ``uri``,
  ``blob`` (base64), ``tensor``, ``embedding``, ``tags`` are kept; ``scores`` keep their ``value``;
  ``matches`` and ``chunks`` are translated recursively; the nine v1-only fields are dropped.
  What remains is validated against the endpoint's schema as any JSON document is.
* **Out** (docwire JSON -> v1): ``id``, ``text``, ``blob``, ``tensor``, ``embedding``, ``tags``,
  ``uri`` (from ``uri``, else ``url``), ``scores`` as ``{"value": x}``, ``matches`` and ``chunks``
  recursively; ``null`` values and fields v1's document does not have are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "V1_ONLY_FIELDS",
    "doc_from_legacy_json",
    "doc_to_legacy_json",
    "docs_from_legacy_json",
    "docs_to_legacy_json",
    "is_legacy_json",
]

#: The fields of docarray v1's document that docwire's ``Document`` has no counterpart for.
V1_ONLY_FIELDS = frozenset(
    {"parent_id", "granularity", "adjacency", "weight", "mime_type", "offset", "location", "modality", "evaluations"}
)
#: The fields carried across, both ways (``uri`` is added from ``url`` on the way out).
_KEPT = ("id", "text", "uri", "blob", "tensor", "embedding", "tags")
_NESTED = ("matches", "chunks")


def is_legacy_json(documents: Any) -> bool:
    """Whether a request's documents (its ``data``: a list, or one object) are docarray v1 ``to_dict()``s."""
    first = documents[0] if isinstance(documents, list) and documents else documents
    return isinstance(first, Mapping) and first.keys() >= V1_ONLY_FIELDS


def docs_from_legacy_json(documents: Any) -> Any:
    """A request's v1 documents (a list, or one object) as docwire's ``Document`` JSON."""
    if isinstance(documents, list):
        return [doc_from_legacy_json(doc) for doc in documents]
    return doc_from_legacy_json(documents)


def docs_to_legacy_json(documents: Any) -> Any:
    """A reply's documents (``data``, as ``document_json`` renders them) as v1 objects."""
    if not isinstance(documents, list):
        return documents
    return [doc_to_legacy_json(doc) for doc in documents if isinstance(doc, Mapping)]


def doc_from_legacy_json(doc: Any) -> Any:
    """One v1 document object as docwire's ``Document`` JSON; anything but an object is returned as it is,
    for schema validation to name."""
    if not isinstance(doc, Mapping):
        return doc
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if value is None or key in V1_ONLY_FIELDS:
            continue
        if key == "scores":
            out[key] = _score_values(value)
        elif key in _NESTED and isinstance(value, list):
            out[key] = [doc_from_legacy_json(item) for item in value]
        else:
            out[key] = value  # unknown keys too: the endpoint's schema decides, as for docwire's own JSON
    return out


def doc_to_legacy_json(doc: Mapping[str, Any]) -> dict[str, Any]:
    """One docwire document, as ``document_json`` renders it, as the v1 object ``Document.from_dict`` reads."""
    out = {key: doc[key] for key in _KEPT if doc.get(key) is not None}
    if "uri" not in out and isinstance(doc.get("url"), str):
        out["uri"] = doc["url"]
    scores = doc.get("scores")
    if isinstance(scores, Mapping):
        out["scores"] = {name: {"value": value} for name, value in _score_values(scores).items()}
    for key in _NESTED:
        items = doc.get(key)
        if isinstance(items, list):
            out[key] = [doc_to_legacy_json(item) for item in items if isinstance(item, Mapping)]
    return out


def _score_values(scores: Any) -> Any:
    """``{"name": {"value": x, ...}}`` (or ``{"name": x}``) as ``{"name": x}``; unset values are left out.
    Anything but an object is returned as it is, for schema validation to name."""
    if not isinstance(scores, Mapping):
        return scores
    out = {}
    for name, score in scores.items():
        value = score.get("value") if isinstance(score, Mapping) else score
        if value is not None:
            out[name] = value
    return out
