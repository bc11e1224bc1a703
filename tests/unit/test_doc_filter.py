"""``when`` filters evaluated on document messages: every operator Jina documents, on nested fields."""

from __future__ import annotations

from typing import Any

import pytest

from docwire.gateway.doc_filter import compile_filter
from docwire_contract.codec import encode_docs
from docwire_contract.doc_types import Document
from docwire_contract.errors import BadRequest
from docwire_contract.v1 import document_pb2

DOCS = [
    Document(id="d0", text="apple pie", tags={"n": 0, "kind": "fruit", "meta": {"ok": True}}),
    Document(id="d1", text="banana", tags={"n": 5, "kind": "fruit", "price": 1.5}),
    Document(id="d2", text="carrot", tags={"n": 7, "kind": "veg"}),
    Document(id="d3", tags={}),
]
MESSAGES = list(document_pb2.DocList.FromString(encode_docs(DOCS)).docs)


def _passing(condition: dict[str, Any]) -> list[str]:
    test = compile_filter(condition)
    return [doc.data["id"].text for doc in MESSAGES if test(doc)]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"tags__n": {"$eq": 5}}, ["d1"]),
        ({"tags__n": 5}, ["d1"]),  # a bare value is $eq
        ({"tags__n": {"$ne": 5}}, ["d0", "d2", "d3"]),  # a missing field is not equal
        ({"tags__n": {"$gt": 0}}, ["d1", "d2"]),
        ({"tags__n": {"$gte": 5}}, ["d1", "d2"]),
        ({"tags__n": {"$lt": 5}}, ["d0"]),
        ({"tags__n": {"$lte": 5}}, ["d0", "d1"]),
        ({"tags__kind": {"$in": ["veg", "meat"]}}, ["d2"]),
        ({"tags__kind": {"$nin": ["fruit"]}}, ["d2", "d3"]),
        ({"text": {"$regex": "^b"}}, ["d1"]),
        ({"tags__price": {"$exists": True}}, ["d1"]),
        ({"text": {"$exists": False}}, ["d3"]),
        ({"tags__meta__ok": {"$eq": True}}, ["d0"]),
        ({"tags__n": {"$gt": 0, "$lt": 7}}, ["d1"]),
        ({"$and": [{"tags__kind": "fruit"}, {"tags__n": {"$gt": 1}}]}, ["d1"]),
        ({"$or": [{"tags__n": 0}, {"tags__kind": "veg"}]}, ["d0", "d2"]),
        ({"tags__kind": "fruit", "text": {"$regex": "pie"}}, ["d0"]),
        ({"text": {"$gt": 3}}, []),  # unlike kinds never match
    ],
)
def test_each_operator(condition: dict[str, Any], expected: list[str]) -> None:
    assert _passing(condition) == expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"tags__n": {"$near": 1}}, "unknown operator '\\$near' on 'tags__n'"),
        ({"$xor": []}, "unknown operator '\\$xor'"),
        ({"$or": {}}, "\\$or takes a non-empty list"),
        ({"tags__n": {"$in": 3}}, "\\$in on 'tags__n' takes a list"),
        ({"text": {"$regex": "("}}, "not a regular expression"),
    ],
)
def test_a_bad_condition_is_refused_naming_it(condition: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        compile_filter(condition)
