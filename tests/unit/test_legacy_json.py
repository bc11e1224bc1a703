"""docarray v1 documents as JSON (jina's HTTP client with clip_client's docarray 0.21) and docwire's, both ways.

The requests are the bodies jina's HTTP client really posted (tests/data/clip_client_frames, README there).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from docwire.transports.document_json import DocumentJson
from docwire.transports.legacy_json import (
    V1_ONLY_FIELDS,
    doc_from_legacy_json,
    doc_to_legacy_json,
    docs_from_legacy_json,
    docs_to_legacy_json,
    is_legacy_json,
)
from docwire_contract.errors import DocumentSchemaError

FRAMES = Path(__file__).resolve().parents[1] / "data" / "clip_client_frames"


def _body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FRAMES / f"http_{name}.request.json").read_text())
    return body


def test_what_jinas_http_client_posts_is_recognised() -> None:
    for name in ("rank", "encode_documents"):
        assert is_legacy_json(_body(name)["data"])
    assert is_legacy_json(_body("rank")["data"][0])  # one object, as a request may hold


@pytest.mark.parametrize(
    "data",
    [
        [{"text": "hi"}],
        [{"id": "a", "text": "hi", "tags": None, "matches": None, "scores": {"x": 1.0}}],
        [{"weight": 1.0, "mime_type": "text/plain"}],  # a schema may have some of the nine, not all
        [],
        None,
        "text",
        [1, 2],
    ],
)
def test_docwires_own_json_is_not(data: Any) -> None:
    assert not is_legacy_json(data)


def test_v1_documents_become_docwires_document_json() -> None:
    query = doc_from_legacy_json(_body("rank")["data"][0])
    assert query == {
        "id": query["id"],
        "text": "a conference room",
        "matches": [
            {"id": query["matches"][0]["id"], "text": "a podium"},
            {"id": query["matches"][1]["id"], "text": "a meeting room"},
        ],
    }
    blob, uri, tensor = docs_from_legacy_json(_body("encode_documents")["data"])
    assert set(blob) == {"id", "blob"}
    assert uri == {"id": "u", "uri": "red.png", "blob": blob["blob"]}  # clip_client reads a uri's bytes itself
    assert tensor == {"id": "x", "tensor": [[[200, 200, 200], [200, 200, 200]], [[200, 200, 200], [200, 200, 200]]]}


def test_v1_scores_keep_their_values() -> None:
    doc = {"id": "a", "scores": {"cosine": {"value": 0.25, "op_name": None}, "unset": {"value": None}, "n": 3}}
    assert doc_from_legacy_json(doc) == {"id": "a", "scores": {"cosine": 0.25, "n": 3}}


def test_translated_documents_fit_docwires_document() -> None:
    """What the gateway then does with them: validated against the endpoint's schema (Document here)."""
    docs = DocumentJson({}).validate(docs_from_legacy_json(_body("encode_documents")["data"]), "/encode")
    blob, uri, tensor = (dict(doc) for doc in docs)
    assert [blob["id"], uri["id"], tensor["id"]] == ["b", "u", "x"]
    assert blob["blob"][:4] == b"\x89PNG"
    assert uri["uri"] == "red.png"
    assert tensor["tensor"].shape == (2, 2, 3)


def test_a_v1_field_of_the_wrong_kind_is_still_named() -> None:
    data = docs_from_legacy_json([{**_body("rank")["data"][0], "tags": "not a dict"}])
    with pytest.raises(DocumentSchemaError, match=r"data\[0\]\.tags"):
        DocumentJson({}).validate(data, "/rank")


def test_docwire_documents_become_what_docarray_v1_reads() -> None:
    reply = {
        "id": "q",
        "text": "a conference room",
        "url": "https://example.com/a.png",
        "blob": None,
        "tensor": None,
        "embedding": [0.5, 0.25],
        "tags": {"k": 1},
        "scores": None,
        "chunks": None,
        "matches": [{"id": "m", "text": "a podium", "scores": {"clip_score": 0.75}, "embedding": None}],
        "custom": "a field v1's document does not have",
    }
    assert doc_to_legacy_json(reply) == {
        "id": "q",
        "text": "a conference room",
        "uri": "https://example.com/a.png",
        "embedding": [0.5, 0.25],
        "tags": {"k": 1},
        "matches": [{"id": "m", "text": "a podium", "scores": {"clip_score": {"value": 0.75}}}],
    }
    assert docs_to_legacy_json([{"id": "a", "uri": "x", "url": "y"}]) == [{"id": "a", "uri": "x"}]


def test_the_nine_fields_are_those_docwires_document_lacks() -> None:
    v1_fields = set(_body("rank")["data"][0])
    docwire_fields = {"id", "text", "uri", "blob", "tensor", "embedding", "tags", "scores", "matches", "chunks"}
    assert v1_fields - docwire_fields == V1_ONLY_FIELDS
