"""docarray v1 documents (clip_client 0.8.3's) and docwire's, both ways, on the frames clip_client really sent.

The frames are in tests/data/clip_client_frames (README there: how they were recorded); the replies
among them were made by jina and docarray v1 themselves, so reading them checks the v1 reader on
embeddings, matches and scores as docarray v1 writes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from docarray import DocList
from google.protobuf import struct_pb2

from docwire_contract.codec import decode_docs, encode_docs
from docwire_contract.doc_types import Document
from docwire_contract.errors import BadRequest
from docwire_contract.legacy import (
    doc_from_legacy,
    doc_list_from_legacy,
    doc_list_to_legacy,
    is_legacy_doc_list,
    is_legacy_request,
    reply_to_legacy,
    request_from_legacy,
)
from docwire_contract.v1 import document_pb2, request_pb2

FRAMES = Path(__file__).resolve().parents[1] / "data" / "clip_client_frames"
RED_PNG = (FRAMES / "red.png").read_bytes()
REQUESTS = sorted(path.name.removesuffix(".request.bin") for path in FRAMES.glob("*.request.bin"))


def _frame(name: str, kind: str = "request") -> bytes:
    return (FRAMES / f"{name}.{kind}.bin").read_bytes()


def _translated(name: str, kind: str = "request") -> tuple[request_pb2.DataRequest, DocList[Document]]:
    request = request_pb2.DataRequest.FromString(request_from_legacy(_frame(name, kind)))
    return request, decode_docs(request.data.docs.SerializeToString(), Document)


# ------------------------------------------------------------------ recognising the format


@pytest.mark.parametrize("name", REQUESTS)
def test_every_recorded_request_and_reply_is_recognised_as_docarray_v1(name: str) -> None:
    assert is_legacy_request(_frame(name))
    assert is_legacy_request(_frame(name, "reply"))


@pytest.mark.parametrize(
    "docs",
    [
        [Document(id="a", text="hello")],
        [Document(id="only-an-id")],  # the shape of clip_client's profile() document, in docwire's format
        [Document(id="x", blob=RED_PNG), Document(id="y", embedding=np.ones(3, np.float32))],
    ],
)
def test_docwire_documents_are_not_taken_for_docarray_v1(docs: list[Document]) -> None:
    encoded = encode_docs(docs)
    request = request_pb2.DataRequest(data=request_pb2.DataContent(docs_bytes=encoded)).SerializeToString()
    assert not is_legacy_doc_list(encoded)
    assert not is_legacy_request(request)
    assert request_from_legacy(request) is request  # untouched, not copied


def test_requests_without_documents_are_left_alone() -> None:
    for request in (b"", request_pb2.DataRequest(header=request_pb2.Header(request_id="r")).SerializeToString()):
        assert not is_legacy_request(request)
        assert request_from_legacy(request) is request
    assert not is_legacy_doc_list(b"")
    assert not is_legacy_doc_list(document_pb2.DocList(docs=[document_pb2.Doc()]).SerializeToString())


# ------------------------------------------------------------------ v1 requests -> docwire


def test_encode_of_strings_sends_texts_and_images_read_by_the_client() -> None:
    request, docs = _translated("encode_strings")
    assert request.header.exec_endpoint == "/encode"
    assert dict(request.parameters) == {"drop_image_content": True}
    assert docs[0].text == "she smiled, with pain"
    assert docs[0].uri is None
    assert docs[0].blob is None
    assert (docs[1].uri, docs[1].blob) == ("red.png", RED_PNG)
    assert docs[2].uri is not None
    assert docs[2].uri.startswith("data:image/png;base64,")
    assert docs[2].blob is not None
    assert docs[2].blob.startswith(b"\x89PNG")
    assert all(len(doc.id or "") == 32 for doc in docs)


def test_encode_of_documents_keeps_ids_texts_blobs_uris_and_tensors() -> None:
    _, docs = _translated("encode_documents")
    by_id = {str(doc.id): doc for doc in docs}
    assert list(by_id) == ["text-doc", "blob-doc", "uri-doc", "datauri-doc", "tensor-doc"]
    assert by_id["text-doc"].text == "a photo of a red square"
    assert by_id["blob-doc"].blob == RED_PNG
    assert by_id["blob-doc"].uri is None
    assert (by_id["uri-doc"].uri, by_id["uri-doc"].blob) == ("red.png", RED_PNG)
    tensor = np.asarray(by_id["tensor-doc"].tensor)
    assert tensor.dtype == np.uint8
    np.testing.assert_array_equal(tensor, np.arange(12, dtype=np.uint8).reshape(2, 2, 3))


def test_a_stream_of_batches_is_one_frame_per_request() -> None:
    texts = [[doc.text for doc in _translated(f"encode_batches.{i}")[1]] for i in (0, 1)]
    assert texts == [["one", "two"], ["three"]]


def test_rank_sends_matches_as_nested_documents() -> None:
    request, docs = _translated("rank")
    assert request.header.exec_endpoint == "/rank"
    assert [(doc.id, doc.text) for doc in docs[0].matches or []] == [
        ("m-podium", "a podium"),
        ("m-meeting", "a meeting room"),
    ]
    assert docs[1].blob == RED_PNG
    assert [doc.text for doc in docs[1].matches or []] == ["red", "blue"]


def test_index_keeps_tags_and_search_sends_its_limit() -> None:
    _, docs = _translated("index")
    assert docs[0].tags == {"k": 1.0}  # v1 tags are a JSON Struct: numbers are floats
    request, queries = _translated("search")
    assert request.header.exec_endpoint == "/search"
    assert dict(request.parameters) == {"limit": 2.0, "drop_image_content": True}
    assert queries[0].text == "smile"


def test_profile_sends_one_document_with_only_an_id_to_the_default_endpoint() -> None:
    request, docs = _translated("profile")
    assert request.header.exec_endpoint == "/"
    assert "__results__" in request.parameters
    assert len(docs) == 1
    assert (docs[0].text, docs[0].blob, docs[0].uri, docs[0].tensor) == (None, None, None, None)


def test_header_parameters_and_routes_come_through() -> None:
    request, _ = _translated("encode_parameters")
    assert len(request.header.request_id) == 32
    assert request.header.exec_endpoint == "/encode"
    assert dict(request.parameters) == {"drop_image_content": False, "custom": "v"}
    reply, _ = _translated("profile", "reply")
    assert [route.executor for route in reply.routes] == ["gateway", "clip_t"]
    assert all(route.end_time.ToNanoseconds() > route.start_time.ToNanoseconds() > 0 for route in reply.routes)
    # jina wrote header, parameters (one key: one map order) and routes before data; protobuf writes
    # the translated envelope's values back to the very same bytes.
    envelope = request_pb2.DataRequest(header=reply.header, parameters=reply.parameters, routes=reply.routes)
    assert _frame("profile", "reply").startswith(envelope.SerializeToString())


# ------------------------------------------------------------------ replies as docarray v1 writes them


def test_v1_embeddings_matches_and_scores_are_read() -> None:
    _, docs = _translated("search", "reply")
    matches = list(docs[0].matches or ())
    assert [match.id for match in matches] == ["match-0", "match-1"]
    assert [round(float((match.scores or {})["cosine"]), 6) for match in matches] == [0.0, 0.1]
    assert np.asarray(docs[0].embedding).dtype == np.float32
    _, ranked = _translated("rank", "reply")
    scores = [float((match.scores or {})["clip_score"]) for match in ranked[0].matches or []]
    assert scores == sorted(scores, reverse=True)


# ------------------------------------------------------------------ docwire -> v1 -> docwire


def test_docwire_documents_survive_the_trip_through_docarray_v1() -> None:
    match = Document(id="m", text="a match", scores={"cosine": 0.25})
    doc = Document(
        id="d",
        text="root",
        uri="https://example.com/a.png",
        blob=b"\x00\x01",
        tensor=np.arange(6, dtype=np.float32).reshape(2, 3),
        embedding=np.linspace(0, 1, 5, dtype=np.float32),
        tags={"s": "v", "n": 2.5, "b": True, "nested": {"x": [1.0, "y"]}, "none": None},
        matches=DocList[Document]([match]),
        chunks=DocList[Document]([Document(id="c", text="chunk")]),
    )
    legacy = doc_list_to_legacy(document_pb2.DocList.FromString(encode_docs([doc])).docs)
    assert is_legacy_doc_list(legacy)
    back = decode_docs(doc_list_from_legacy(legacy).SerializeToString(), Document)[0]
    assert (back.id, back.text, back.uri, back.blob) == ("d", "root", "https://example.com/a.png", b"\x00\x01")
    np.testing.assert_array_equal(np.asarray(back.tensor), np.asarray(doc.tensor))
    np.testing.assert_array_equal(np.asarray(back.embedding), np.asarray(doc.embedding))
    assert back.tags == doc.tags
    assert [(m.id, m.text, m.scores) for m in back.matches or []] == [("m", "a match", {"cosine": 0.25})]
    assert [(c.id, c.text) for c in back.chunks or []] == [("c", "chunk")]


def test_a_reply_goes_back_as_docarray_v1_with_its_envelope() -> None:
    header = request_pb2.Header(request_id="r1", exec_endpoint="/encode")
    route = request_pb2.Route(executor="gateway")
    docs = encode_docs([Document(id="a", text="hi", embedding=np.ones(4, np.float32))])
    reply = request_pb2.DataRequest(header=header, routes=[route], data=request_pb2.DataContent(docs_bytes=docs))
    legacy = reply_to_legacy(reply.SerializeToString())
    assert is_legacy_request(legacy)
    back = request_pb2.DataRequest.FromString(request_from_legacy(legacy))
    assert (back.header, list(back.routes)) == (header, [route])
    [doc] = decode_docs(back.data.docs.SerializeToString(), Document)
    assert (doc.id, doc.text) == ("a", "hi")
    np.testing.assert_array_equal(np.asarray(doc.embedding), np.ones(4, np.float32))


def test_url_stands_in_for_a_missing_uri() -> None:
    legacy = doc_list_to_legacy(document_pb2.DocList.FromString(encode_docs([Document(id="a", url="u.png")])).docs)
    [doc] = decode_docs(doc_list_from_legacy(legacy).SerializeToString(), Document)
    assert doc.uri == "u.png"


# ------------------------------------------------------------------ what is refused


def test_a_truncated_frame_is_a_bad_request() -> None:
    frame = _frame("encode_documents")
    with pytest.raises(BadRequest, match="truncated"):
        request_from_legacy(frame[:-10])


def test_a_sparse_tensor_is_refused_naming_the_document() -> None:
    sparse = b"\x12\x00"  # NdArrayProto.sparse = 2, empty
    doc = b"\x0a\x01a" + b"\x1a" + bytes([len(sparse)]) + sparse  # id = "a", tensor = 3
    with pytest.raises(BadRequest, match=r"documents\[0\]\.tensor: sparse tensors are not supported"):
        doc_list_from_legacy(b"\x0a" + bytes([len(doc)]) + doc)


def test_text_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(BadRequest, match=r"document\.text is not UTF-8"):
        doc_from_legacy(b"\x22\x01\xff")  # text = 4


def test_tags_struct_values_map_to_docwire_nodes() -> None:
    tags = struct_pb2.Struct()
    tags.update({"a": 1, "b": "x", "c": [True, None]})
    doc = doc_from_legacy(b"\x8a\x01" + bytes([len(tags.SerializeToString())]) + tags.SerializeToString())
    nodes = doc.data["tags"].dict.data
    assert (nodes["a"].float, nodes["b"].text) == (1.0, "x")
    assert [item.WhichOneof("content") for item in nodes["c"].list.data] == ["boolean", None]
