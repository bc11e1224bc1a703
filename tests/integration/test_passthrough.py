"""Endpoints that never read their documents answer with the request's bytes: the replies are the same.

The executor skips decoding and encoding only when a method cannot see ``docs`` and the
request's documents are exactly what encoding them again would give. Every test here
holds whichever way a request is served: pass-through must not be observable.
"""

# docarray's tensor annotations are runtime generics mypy cannot read.
# mypy: disable-error-code="type-arg, valid-type"

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from docarray import BaseDoc, DocList
from docarray.typing import NdArray

from docwire import Client, Document, Executor, Flow, requests
from docwire_contract.errors import DocumentSchemaError

N = 30

MakeClient = Callable[..., Client]


class EmbedDoc(BaseDoc):
    embedding: NdArray


class LabelledEmbedding(BaseDoc):
    label: str
    embedding: NdArray


class Label(BaseDoc):
    label: str


class Blind(Executor):
    """Endpoints that do not look at their documents, and one that does."""

    @requests(on="/blind")
    def blind(self, docs: DocList[EmbedDoc], **kwargs: Any) -> None:
        """Never reads the documents."""

    @requests(on="/count")
    async def count(self, parameters: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"parameters": sorted(parameters)}

    @requests(on="/replace")
    def replace(self, **kwargs: Any) -> DocList[EmbedDoc]:
        return DocList[EmbedDoc]([EmbedDoc(id="new", embedding=np.arange(3, dtype=np.float32))])

    @requests(on="/double")
    def double(self, docs: DocList[EmbedDoc], **kwargs: Any) -> None:
        for doc in docs:
            doc.embedding *= 2


@pytest.fixture(scope="module")
def blind() -> Iterator[Flow]:
    with Flow(host="127.0.0.1").add(uses=Blind, name="blind") as flow:
        yield flow


def embed_docs(n: int = N) -> DocList[EmbedDoc]:
    block = np.random.default_rng(3).random((n, 8), dtype=np.float32)
    return DocList[EmbedDoc](EmbedDoc(embedding=row) for row in block)


def test_documents_come_back_as_sent(blind: Flow, client_of: MakeClient) -> None:
    sent = embed_docs()
    back = client_of(blind).post("/blind", sent, return_type=DocList[EmbedDoc], request_size=N)
    assert back.id == sent.id
    for ours, theirs in zip(back, sent, strict=True):
        assert type(ours.embedding) is NdArray
        np.testing.assert_array_equal(ours.embedding, theirs.embedding)


def test_fields_the_endpoint_does_not_declare_are_dropped_as_before(blind: Flow, client_of: MakeClient) -> None:
    rng = np.random.default_rng(4)
    sent = [LabelledEmbedding(label=f"l{i:03d}", embedding=rng.random(4, dtype=np.float32)) for i in range(N)]
    back = client_of(blind).post("/blind", sent, request_size=N)
    assert [doc.id for doc in back] == [doc.id for doc in sent]
    assert all(isinstance(doc, Document) and doc.text is None and not doc.tags for doc in back)
    np.testing.assert_array_equal(back[7].embedding, sent[7].embedding)


def test_documents_that_do_not_fit_are_still_refused(blind: Flow, client_of: MakeClient) -> None:
    sent = [Label(label=f"{i:03d}") for i in range(N)]
    with pytest.raises(DocumentSchemaError, match=r"'embedding'"):
        client_of(blind).post("/blind", sent, request_size=N)


def test_results_travel_and_documents_stay(blind: Flow, client_of: MakeClient) -> None:
    sent = embed_docs()
    responses = client_of(blind).post(
        "/count", sent, parameters={"b": 1, "a": 2}, request_size=N, return_responses=True
    )
    (response,) = responses
    assert response.parameters["__results__"]["blind/rep-0"] == {"parameters": ["a", "b"]}
    assert response.docs.id == sent.id


def test_returned_documents_replace_the_request_documents(blind: Flow, client_of: MakeClient) -> None:
    back = client_of(blind).post("/replace", embed_docs(), return_type=DocList[EmbedDoc], request_size=N)
    assert back.id == ["new"]
    np.testing.assert_array_equal(back[0].embedding, np.arange(3, dtype=np.float32))


def test_mutations_in_place_are_sent(blind: Flow, client_of: MakeClient) -> None:
    sent = embed_docs()
    back = client_of(blind).post("/double", sent, return_type=DocList[EmbedDoc], request_size=N)
    for ours, theirs in zip(back, sent, strict=True):
        np.testing.assert_array_equal(ours.embedding, theirs.embedding * 2)
