"""Seed 001's own client, clip_client 0.8.3 (docarray v1 documents), against the real embedding service.

clip_client runs in its own venv (``make clip-venv``: jina 3.34.0, docarray 0.21.1, protobuf 5) as a
subprocess, once per protocol (one at a time: they index the same ids), against the real service's
gateway (``embed_service``: the real models and index). Over gRPC it calls ``/jina.JinaRPC/Call``,
over WebSocket it sends jina's binary frames, both translated with ``docwire_contract.legacy`` at the
edge; over HTTP it posts docarray v1's ``to_dict()`` documents, translated by ``transports/legacy_json``.
Every value asserted is what clip_client itself decoded from the replies, and each protocol reads the
same values.

One line of the client is replaced over HTTP: jina 3.34's HTTP client hands a callback the reply's
documents in ``response.docs`` and leaves ``response.data.docs`` empty, which clip_client 0.8.3's
callback reads, so its encode, rank, index and search over HTTP fail inside the client whatever the
server answers (they fail so against jina 3.34's own HTTP gateway too). The script reads them where
jina put them, and records that the unchanged client still fails that way
(``test_clip_clients_own_http_callback_finds_no_documents``), so the day a pinned jina fixes it, that
test says the line can go.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from conftest import EmbedService

from docwire_contract.codec import varint_bytes
from docwire_contract.legacy import is_legacy_request, request_from_legacy
from docwire_contract.v1 import request_pb2

ROOT = Path(__file__).resolve().parents[2]
CLIP_PYTHON = ROOT / ".build" / "clip-venv" / "bin" / "python"
FRAMES = ROOT / "tests" / "data" / "clip_client_frames"
RED_PNG = FRAMES / "red.png"
TEXT_SIZE, IMAGE_SIZE = 384, 1280

PROTOCOLS = ("grpc", "http", "websocket")

#: Run by the clip venv's python: argv = [address, image path]; prints one JSON object of what it read.
CLIENT_CALLS = r"""
import json, sys
import numpy as np
from clip_client import Client
from docarray import Document

c = Client(sys.argv[1])
red = sys.argv[2]
out = {}
if sys.argv[1].startswith("http://"):
    try:
        c.encode(["hello"])
        out["own_http_callback"] = "no error"
    except Exception as error:
        cause = error.__context__  # jina's callback wrapper fails to name the callback (a partial)
        out["own_http_callback"] = [type(cause).__name__, str(cause)]

    def gather(response, results, attribute=None):
        # clip_client's own _gather_result, reading response.docs (where jina 3.34's HTTP client puts
        # the reply's documents) instead of response.data.docs (which it leaves empty).
        r = response.docs
        if attribute:
            results[r[:, "id"]][:, attribute] = r[:, attribute]

    Client._gather_result = staticmethod(gather)
texts = c.encode(["she smiled, with pain", "a photo of a cat"])
out["encode_texts"] = [list(texts.shape), [float(np.linalg.norm(row)) for row in texts]]
out["encode_texts_head"] = texts[:, :4].tolist()
images = c.encode([red, red])
out["encode_images"] = list(images.shape)
out["encode_images_head"] = images[:, :4].tolist()
images = [
    Document(id="b", blob=open(red, "rb").read()),
    Document(id="u", uri=red),
    Document(id="x", tensor=np.full((8, 8, 3), 200, np.uint8)),
]
encoded = c.encode(images)
out["encode_documents"] = [[d.id, d.embedding.shape[0]] for d in encoded]
out["encode_documents_head"] = [d.embedding[:4].tolist() for d in encoded]
# clip_client stacks all embeddings of one call (DocumentArray.embeddings): texts (384 floats) and images
# (1280) cannot share a call, as they can with CLIP's one space.
texts = c.encode([Document(id="t", text="hello"), Document(id="s", text="hi", uri="https://example.com/page")])
out["encode_text_documents"] = [[d.id, d.embedding.shape[0]] for d in texts]
candidates = [Document(text="a podium"), Document(text="a meeting room")]
ranked = c.rank([Document(text="a conference room", matches=candidates)])
out["rank"] = [[m.text, m.scores["clip_score"].value] for m in ranked[0].matches]
indexed = c.index([
    Document(id="clip-1", text="clip_client indexed a sentence about a smiling woman"),
    Document(id="clip-2", text="clip_client indexed a sentence about falling stock prices"),
])
out["index"] = [[d.id, d.embedding.shape[0]] for d in indexed]
found = c.search(["clip_client indexed a sentence about a smiling woman"], limit=2)
out["search"] = [[m.id, m.text, m.scores["cosine"].value] for m in found[0].matches]
out["profile"] = sorted(c.profile("hello, world"))
out["profile_empty"] = sorted(c.profile())
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def reads(embed_service: EmbedService) -> dict[str, dict[str, Any]]:
    """What clip_client read back from every call, by protocol (a subprocess each: the venv's imports take
    seconds; one after the other, since each indexes the same ids)."""
    return {protocol: _run_client(embed_service.address(protocol)) for protocol in PROTOCOLS}


@pytest.fixture(params=PROTOCOLS)
def read(request: pytest.FixtureRequest, reads: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What clip_client read over one protocol."""
    result: dict[str, Any] = reads[request.param]
    return result


def _run_client(address: str) -> dict[str, Any]:
    done = subprocess.run(
        [_clip_python(), "-c", CLIENT_CALLS, address, str(RED_PNG)],
        capture_output=True,
        text=True,
        env=_clip_env(),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_encode_of_strings_returns_a_row_per_input(read: dict[str, Any]) -> None:
    shape, norms = read["encode_texts"]
    assert shape == [2, TEXT_SIZE]
    assert norms == pytest.approx([1.0, 1.0], abs=1e-4)
    assert read["encode_images"] == [2, IMAGE_SIZE]


def test_encode_of_documents_sets_each_documents_embedding(read: dict[str, Any]) -> None:
    assert read["encode_documents"] == [["b", IMAGE_SIZE], ["u", IMAGE_SIZE], ["x", IMAGE_SIZE]]
    assert read["encode_text_documents"] == [["t", TEXT_SIZE], ["s", TEXT_SIZE]]  # text wins over a uri


def test_rank_sorts_the_matches_by_clip_score(read: dict[str, Any]) -> None:
    ranked = read["rank"]
    assert sorted(text for text, _ in ranked) == ["a meeting room", "a podium"]
    assert ranked[0][0] == "a meeting room"
    assert [score for _, score in ranked] == sorted((score for _, score in ranked), reverse=True)
    assert sum(score for _, score in ranked) == pytest.approx(1.0, abs=1e-5)


def test_index_then_search_finds_the_indexed_sentence_first(read: dict[str, Any]) -> None:
    assert read["index"] == [["clip-1", TEXT_SIZE], ["clip-2", TEXT_SIZE]]
    first_id, first_text, first_distance = read["search"][0]
    assert (first_id, first_text) == ("clip-1", "clip_client indexed a sentence about a smiling woman")
    # Not exactly 0: the int8 text model embeds a sentence slightly differently batched with others.
    assert 0.0 <= first_distance < 0.05
    assert len(read["search"]) == 2
    assert first_distance < read["search"][1][2]


def test_profile_reports_the_latency_tree(read: dict[str, Any]) -> None:
    tree = ["CLIP model", "Client-server network", "Gateway-CLIP network", "Roundtrip", "Server"]
    assert read["profile"] == tree
    assert read["profile_empty"] == tree  # one empty document: the network alone, as the seed shows


@pytest.mark.parametrize("protocol", [p for p in PROTOCOLS if p != "grpc"])
@pytest.mark.parametrize("key", ["encode_texts_head", "encode_images_head", "encode_documents_head", "rank", "search"])
def test_every_protocol_reads_what_grpc_reads(reads: dict[str, dict[str, Any]], protocol: str, key: str) -> None:
    """The same embeddings, scores and matches, whichever protocol carried them (float32 both ways)."""
    assert _numbers(reads[protocol][key]) == pytest.approx(_numbers(reads["grpc"][key]), abs=1e-6)
    assert _texts(reads[protocol][key]) == _texts(reads["grpc"][key])


def test_clip_clients_own_http_callback_finds_no_documents(reads: dict[str, dict[str, Any]]) -> None:
    """Why the HTTP script reads ``response.docs``: unchanged, clip_client 0.8.3 on jina 3.34 indexes the
    results with the ids of ``response.data.docs``, which jina's HTTP client leaves empty."""
    assert reads["http"]["own_http_callback"] == ["IndexError", "list index out of range"]


def test_a_v1_body_over_http_is_answered_with_v1_documents(embed_service: EmbedService) -> None:
    """The body jina's HTTP client posted for clip_client's rank, as recorded; the reply as docarray v1 reads it."""
    body = json.loads((FRAMES / "http_rank.request.json").read_text())
    reply = httpx.post(f"{embed_service.address('http')}/rank", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    (query,) = reply.json()["data"]
    sent = body["data"][0]
    assert (query["id"], query["text"]) == (sent["id"], sent["text"])
    assert [m["id"] for m in query["matches"]] == [sent["matches"][1]["id"], sent["matches"][0]["id"]]
    scores = [m["scores"]["clip_score"]["value"] for m in query["matches"]]
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) == pytest.approx(1.0, abs=1e-5)
    assert None not in query.values()  # docarray v1 reads an absent field as unset


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"tags": "not a dict"}, "data[0].tags"),  # a v1 document: its nulls are absent, a wrong kind is not
        ({"text": ["not", "text"]}, "data[0].text"),
    ],
)
def test_a_v1_field_of_the_wrong_kind_is_422_naming_it(
    embed_service: EmbedService, document: dict[str, Any], field: str
) -> None:
    body = json.loads((FRAMES / "http_rank.request.json").read_text())
    body["data"][0].update(document)
    reply = httpx.post(f"{embed_service.address('http')}/rank", json=body, timeout=60)
    assert reply.status_code == 422
    assert field in reply.json()["message"]


def test_docwires_own_json_still_refuses_null_tags(embed_service: EmbedService) -> None:
    """Only a v1 document (all nine of its own fields present) has its nulls read as absent."""
    body = {"data": [{"text": "hi", "tags": None}]}
    reply = httpx.post(f"{embed_service.address('http')}/encode", json=body, timeout=60)
    assert reply.status_code == 422
    assert "data[0].tags" in reply.json()["message"]


def test_the_clip_venv_is_docarray_v1() -> None:
    """The premise of this file: the venv's docarray is v1, so its documents are DocumentProto."""
    versions = "import docarray, jina, clip_client as c; print(docarray.__version__, jina.__version__, c.__version__)"
    command = [_clip_python(), "-c", versions]
    done = subprocess.run(command, capture_output=True, text=True, env=_clip_env(), timeout=120, check=False)
    assert done.stdout.split() == ["0.21.1", "3.34.0", "0.8.3"], done.stderr[-2000:]


def _numbers(value: Any) -> list[float]:
    """The numbers of a nested JSON value, in order."""
    if isinstance(value, list):
        return [number for item in value for number in _numbers(item)]
    return [float(value)] if isinstance(value, (int, float)) else []


def _texts(value: Any) -> list[str]:
    """The strings of a nested JSON value, in order."""
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return [value] if isinstance(value, str) else []


def _clip_python() -> str:
    if not CLIP_PYTHON.exists():
        pytest.fail(f"{CLIP_PYTHON} is missing: run 'make clip-venv' (part of 'make install')")
    return str(CLIP_PYTHON)


def _clip_env() -> dict[str, str]:
    """The clip venv's own packages only (no PYTHONPATH into this tree); no version check or telemetry calls out."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return env | {"NO_VERSION_CHECK": "1", "JINA_OPTOUT_TELEMETRY": "1"}


def _one_request_list(raw: bytes) -> bytes:
    """A ``jina.DataRequestList`` of ``raw``, written by hand: a v1 request does not parse as docwire's."""
    return b"\x0a" + varint_bytes(len(raw)) + raw


@pytest.mark.parametrize(
    ("path", "wrap"),
    [
        ("/jina.JinaSingleDataRequestRPC/process_single_data", lambda raw: raw),
        ("/jina.JinaDataRequestRPC/process_data", _one_request_list),
    ],
    ids=["process_single_data", "process_data"],
)
def test_jinas_unary_paths_translate_docarray_v1_documents_too(
    embed_service: EmbedService, path: str, wrap: Callable[[bytes], bytes]
) -> None:
    """clip_client's recorded encode request, sent as a Jina gateway sends one to an executor."""
    request = (FRAMES / "encode_text_only.request.bin").read_bytes()
    with grpc.insecure_channel(f"127.0.0.1:{embed_service.flow.ports['grpc']}") as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(path)
        reply = call(wrap(request), timeout=60)
    assert is_legacy_request(reply)
    docs = request_pb2.DataRequest.FromString(request_from_legacy(reply)).data.docs.docs
    sent = request_pb2.DataRequest.FromString(request_from_legacy(request)).data.docs.docs
    assert [doc.data["id"].text for doc in docs] == [doc.data["id"].text for doc in sent]
    assert all(len(doc.data["embedding"].ndarray.dense.buffer) == 4 * TEXT_SIZE for doc in docs)
