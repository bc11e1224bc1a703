"""Merging replies by document id (Jina's reduce), on document messages."""

from __future__ import annotations

import pytest
from docarray import DocList

from docwire.gateway.merge import merge_replies, reduce_doc_lists
from docwire.gateway.reduce_hook import ReduceHookFailed, hook_reducer
from docwire_contract.codec import decode_docs, encode_docs
from docwire_contract.doc_types import Document
from docwire_contract.v1 import document_pb2, request_pb2


def _message(*docs: Document) -> document_pb2.DocList:
    return document_pb2.DocList.FromString(encode_docs(docs))


def _docs(message: document_pb2.DocList) -> DocList[Document]:
    return decode_docs(message.SerializeToString(), Document)


def test_first_reply_wins_empty_fields_are_filled_and_matches_concatenated() -> None:
    first = _message(
        Document(id="a", text="from first", tags={"x": 1}, matches=[Document(id="m1")]),
        Document(id="b"),
    )
    second = _message(
        Document(id="b", text="b from second"),
        Document(id="a", text="ignored", url="u", tags={"x": 2, "y": 3}, matches=[Document(id="m2")]),
        Document(id="c", text="only in second"),
    )
    merged = _docs(reduce_doc_lists([first, second]))
    assert merged.id == ["a", "b", "c"]
    assert merged.text == ["from first", "b from second", "only in second"]
    assert merged[0].url == "u"
    assert merged[0].tags == {"x": 1, "y": 3}
    assert [m.id for m in merged[0].matches or []] == ["m1", "m2"]


def test_same_match_ids_are_reduced_not_repeated() -> None:
    first = _message(Document(id="q", matches=[Document(id="m", text="kept")]))
    second = _message(Document(id="q", matches=[Document(id="m", url="added")]))
    (query,) = _docs(reduce_doc_lists([first, second]))
    (match,) = query.matches or []
    assert (match.text, match.url) == ("kept", "added")


def test_merged_replies_keep_every_result_and_each_route_once() -> None:
    replies = []
    for name in ("a", "b"):
        reply = request_pb2.DataRequest()
        reply.routes.add(executor="common")
        reply.routes.add(executor=name)
        reply.parameters.update({"__results__": {f"{name}/rep-0": {"n": 1}}, "k": name})
        reply.data.docs.CopyFrom(_message(Document(id="d")))
        replies.append(reply)
    merged = merge_replies(replies)
    assert [r.executor for r in merged.routes] == ["common", "a", "b"]
    assert set(merged.parameters.fields["__results__"].struct_value.fields) == {"a/rep-0", "b/rep-0"}
    assert merged.parameters["k"] == "a"


def test_a_reduce_hook_gets_decoded_lists_of_its_annotated_class() -> None:
    def longest(docs_matrix: list[DocList[Document]]) -> DocList[Document]:
        return max(docs_matrix, key=len)

    reducer = hook_reducer(longest, "ranker")
    merged = _docs(reducer([_message(Document(id="a")), _message(Document(id="b"), Document(id="c"))]))
    assert merged.id == ["b", "c"]


def test_a_failing_reduce_hook_becomes_an_error_status_naming_its_executor() -> None:
    def broken(docs_matrix: list[DocList[Document]]) -> DocList[Document]:
        raise ValueError("cannot merge")

    request = request_pb2.DataRequest()
    with pytest.raises(ReduceHookFailed) as caught:
        hook_reducer(broken, "ranker")([_message(Document(id="a"))])
    status = request_pb2.DataRequest.FromString(caught.value.reply(request)).header.status
    assert status.code == request_pb2.Status.CODE_ERROR
    assert (status.exception.name, status.exception.executor) == ("ValueError", "ranker (reduce)")
    assert list(status.exception.args) == ["cannot merge"]
