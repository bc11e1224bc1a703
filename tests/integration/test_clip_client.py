"""Seed 001's own client, clip_client 0.8.3 (docarray v1 documents), against the real embedding service.

clip_client runs in its own venv (``make clip-venv``: jina 3.34.0, docarray 0.21.1, protobuf 5) as a
subprocess; it calls ``/jina.JinaRPC/Call`` on the real service's gateway (``embed_service``: the
real models and index), which translates its documents with ``docwire_contract.legacy`` at the
edge. Every value asserted is what clip_client itself decoded from the replies.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
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

#: Run by the clip venv's python: argv = [address, image path]; prints one JSON object of what it read.
CLIENT_CALLS = r"""
import json, sys
import numpy as np
from clip_client import Client
from docarray import Document

c = Client(sys.argv[1])
red = sys.argv[2]
out = {}
texts = c.encode(["she smiled, with pain", "a photo of a cat"])
out["encode_texts"] = [list(texts.shape), [float(np.linalg.norm(row)) for row in texts]]
out["encode_images"] = list(c.encode([red, red]).shape)
images = [
    Document(id="b", blob=open(red, "rb").read()),
    Document(id="u", uri=red),
    Document(id="x", tensor=np.full((8, 8, 3), 200, np.uint8)),
]
out["encode_documents"] = [[d.id, d.embedding.shape[0]] for d in c.encode(images)]
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
def read(embed_service: EmbedService) -> dict[str, Any]:
    """What clip_client read back from every call (one subprocess for all, the venv's imports take seconds)."""
    done = subprocess.run(
        [_clip_python(), "-c", CLIENT_CALLS, embed_service.address("grpc"), str(RED_PNG)],
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


def test_the_clip_venv_is_docarray_v1() -> None:
    """The premise of this file: the venv's docarray is v1, so its documents are DocumentProto."""
    versions = "import docarray, jina, clip_client as c; print(docarray.__version__, jina.__version__, c.__version__)"
    command = [_clip_python(), "-c", versions]
    done = subprocess.run(command, capture_output=True, text=True, env=_clip_env(), timeout=120, check=False)
    assert done.stdout.split() == ["0.21.1", "3.34.0", "0.8.3"], done.stderr[-2000:]


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
