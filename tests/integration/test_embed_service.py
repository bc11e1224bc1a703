"""The embedding service (``docwire.embed``) with its real models and index, called by ``EmbedClient``.

Seed 001's client API, each behaviour against the service's processes: encode (strings in
order, documents filled in place), rank, index, search with ``limit``, profile, batching,
progress, generators, callbacks, async beside another task, every protocol; the index kept
across a restart; what a bad input gets.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import subprocess
import sys
import time
from glob import iglob
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import EmbedService
from web_images import png_bytes

from docwire import Client, Document, ExecutorError, Flow
from docwire.embed.service import embed_flow
from docwire.embed.vector_index import IndexKind
from docwire_client.embed import EmbedClient
from docwire_client.embed_inputs import UnreadableInput


@pytest.fixture
def client(embed_service: EmbedService) -> Any:
    with EmbedClient(embed_service.address("grpc")) as made:
        yield made


def _cos(a: Any, b: Any) -> float:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_encode_strings_returns_rows_in_input_order(client: EmbedClient) -> None:
    sentences = ["a dog plays in the park", "a puppy runs on the grass", "the quarterly revenue report"]
    together = client.encode(sentences, batch_size=1)
    assert together.shape == (3, 384)
    assert together.dtype == np.float32
    for i, sentence in enumerate(sentences):  # each row is that input's embedding, whatever the batching
        np.testing.assert_allclose(client.encode([sentence])[0], together[i], atol=1e-5)
    assert _cos(together[0], together[1]) > _cos(together[0], together[2]) + 0.3  # a real model


def test_sentences_with_dots_and_slashes_are_text(client: EmbedClient) -> None:
    """clip-as-service #880: "see a.b" and "and/or" were taken for file paths."""
    vectors = client.encode(["see a.b", "and/or", "e.g. this", "she smiled, with pain"])
    assert vectors.shape == (4, 384)


def test_image_strings_path_file_uri_data_uri_and_http_url(client: EmbedClient, embed_service: EmbedService) -> None:
    image = png_bytes(1)
    path = embed_service.workdir / "apple.png"
    path.write_bytes(image)
    data_uri = "data:image/png;base64," + base64.b64encode(image).decode()
    vectors = client.encode([str(path), path.as_uri(), data_uri, embed_service.image_url("1.png")])
    assert vectors.shape == (4, 1280)
    for row in vectors[1:]:  # the same picture, however it was named
        np.testing.assert_allclose(row, vectors[0], atol=1e-5)
    other = client.encode([embed_service.image_url("2.png")])[0]
    assert _cos(other, vectors[0]) < 0.999


def test_encode_documents_fills_the_same_documents(client: EmbedClient, embed_service: EmbedService) -> None:
    image = png_bytes(3)
    path = embed_service.workdir / "three.png"
    path.write_bytes(image)
    pixels = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    docs = [
        Document(text="she smiled, with pain"),
        Document(uri=str(path)),
        Document(blob=image),
        Document(tensor=pixels),
        Document(uri=embed_service.image_url("3.png")),
        Document(text="text wins", uri=str(path)),
    ]
    result = client.encode(docs)
    assert [doc.id for doc in result] == [doc.id for doc in docs]
    assert result[0] is docs[0]  # the input documents, filled in
    assert [np.asarray(doc.embedding).shape for doc in docs] == [(384,), (1280,), (1280,), (1280,), (1280,), (384,)]
    vectors = [np.asarray(doc.embedding) for doc in docs]
    np.testing.assert_allclose(vectors[1], vectors[2], atol=1e-5)
    np.testing.assert_allclose(vectors[1], vectors[4], atol=1e-5)
    assert docs[1].blob is None  # the client read the file for the request, not into the caller's document


def test_rank_sorts_matches_by_clip_score(client: EmbedClient) -> None:
    query = Document(
        text="a photo of a conference room",
        matches=[Document(text=f"a photo of a {p}") for p in ("podium indoor", "conference room", "sunny beach")],
    )
    (ranked,) = client.rank([query])
    texts = [match.text for match in ranked.matches]
    scores = [match.scores["clip_score"] for match in ranked.matches]
    assert texts[0] == "a photo of a conference room"
    assert texts[-1] == "a photo of a sunny beach"
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) == pytest.approx(1.0, abs=1e-6)
    assert all(-1 <= match.scores["clip_score_cosine"] <= 1 for match in ranked.matches)


def test_rank_across_texts_and_images_names_the_limit(client: EmbedClient, embed_service: EmbedService) -> None:
    query = Document(uri=embed_service.image_url("0.png"), matches=[Document(text="a photo of a cat")])
    with pytest.raises(ExecutorError, match="ranking images against texts"):
        client.rank([query])
    assert client.encode(["still serving"]).shape == (1, 384)


def test_index_then_search_with_limit(client: EmbedClient) -> None:
    corpus = ["zebras graze on the savanna", "the stock market fell sharply", "a chef slices fresh tomatoes"]
    indexed = client.index([Document(text=text) for text in corpus])
    assert [doc.text for doc in indexed] == corpus
    assert all(np.asarray(doc.embedding).shape == (384,) for doc in indexed)
    results = client.search(["striped horses eating grass", "cooking vegetables"], limit=2)
    assert [len(query.matches) for query in results] == [2, 2]
    assert results[0].matches[0].text == "zebras graze on the savanna"
    assert results[1].matches[0].text == "a chef slices fresh tomatoes"
    distances = [match.scores["cosine"] for match in results[0].matches]
    assert distances == sorted(distances)
    assert 0 <= distances[0] < 0.7


def test_images_search_images(client: EmbedClient, embed_service: EmbedService) -> None:
    client.index([Document(uri=embed_service.image_url("2.png"), tags={"name": "two"})])
    (query,) = client.search([embed_service.image_url("2.png")], limit=1)
    assert query.matches[0].tags == {"name": "two"}
    assert query.matches[0].url == embed_service.image_url("2.png")
    assert query.matches[0].scores["cosine"] == pytest.approx(0.0, abs=1e-4)


def test_generator_input_batches_and_progress(client: EmbedClient, embed_service: EmbedService) -> None:
    folder = embed_service.workdir / "pictures"
    folder.mkdir(exist_ok=True)
    for i in range(5):
        (folder / f"{i}.png").write_bytes(png_bytes(10 + i))
    pulled: list[str] = []

    def paths() -> Any:
        for path in iglob(str(folder / "*.png")):  # noqa: PTH207 (the seed's own example)
            pulled.append(path)
            yield path

    vectors = client.encode(paths(), batch_size=2, show_progress=True, prefetch=1)
    assert vectors.shape == (5, 1280)
    assert len(pulled) == 5


def test_callbacks_see_each_reply_and_nothing_is_returned(client: EmbedClient) -> None:
    done: list[int] = []
    always: list[int] = []
    result = client.encode(
        [f"sentence number {i}" for i in range(7)],
        batch_size=3,
        on_done=lambda response: done.append(len(response.docs)),
        on_always=lambda response: always.append(len(response.docs)),
    )
    assert result is None
    assert sorted(done) == [1, 3, 3]
    assert sorted(always) == [1, 3, 3]


def test_on_error_gets_the_failed_request(client: EmbedClient) -> None:
    errors: list[str] = []
    client.encode(
        [Document(blob=b"not an image"), Document(text="fine")],
        batch_size=1,
        on_error=lambda response: errors.append(response.status.description),
        on_done=lambda response: None,
    )
    assert len(errors) == 1
    assert "blob" in errors[0]


async def test_aencode_runs_beside_another_task(embed_service: EmbedService) -> None:
    async with EmbedClient(embed_service.address("grpc")) as client:
        other = asyncio.create_task(asyncio.sleep(0.5))
        vectors, _ = await asyncio.gather(client.aencode(["hello world"] * 40, batch_size=8), other)
        assert vectors.shape == (40, 384)
        assert other.done()
        indexed = await client.aindex(["an asynchronous sentence about sailing boats"])
        assert indexed[0].text == "an asynchronous sentence about sailing boats"
        hits = await client.asearch(["sailing boats"], limit=1)
        assert hits[0].matches[0].text == "an asynchronous sentence about sailing boats"
        ranked = await client.arank([Document(text="x", matches=[Document(text="y")])])
        assert ranked[0].matches[0].scores["clip_score"] == pytest.approx(1.0)


@pytest.mark.parametrize("protocol", ["http", "websocket"])
def test_other_protocols(embed_service: EmbedService, protocol: str) -> None:
    with EmbedClient(embed_service.address(protocol)) as client:
        assert client.encode([f"over {protocol}"]).shape == (1, 384)
        assert client.encode([embed_service.image_url("1.png")]).shape == (1, 1280)
        client.index([f"indexed over {protocol}"])
        assert client.search([f"indexed over {protocol}"], limit=1)[0].matches[0].text == f"indexed over {protocol}"


def test_profile_prints_the_tree(client: EmbedClient, capsys: pytest.CaptureFixture[str]) -> None:
    figures = client.profile()
    assert figures["Roundtrip"] > 0
    assert "encoder" in figures
    assert "Roundtrip" in capsys.readouterr().out
    assert client.profile("hello, world")["encoder"] > 0


def test_unreadable_image_path_names_the_input(client: EmbedClient) -> None:
    with pytest.raises(UnreadableInput, match=r"input 1 \('missing/apple.png'\).*No such file"):
        client.encode(["fine sentence", "missing/apple.png"])
    assert client.encode(["the service keeps serving"]).shape == (1, 384)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (Document(blob=b"not an image", id="bad-blob"), "document bad-blob: blob: not a readable image"),
        (Document(uri="/etc/hostname", id="local"), "document local: /etc/hostname: the service does not read files"),
        (Document(uri="file:///etc/hostname", id="file"), "document file: .*does not read files from its own disk"),
        (Document(uri="http://127.0.0.1:9/gone.png", id="gone"), "document gone: .*cannot read the image"),
        (Document(tensor=np.zeros((3, 4, 5, 6)), id="cube"), "document cube: tensor"),
    ],
    ids=["blob", "path", "file-uri", "unreachable", "tensor"],
)
def test_bad_documents_get_errors_naming_them(embed_service: EmbedService, doc: Document, message: str) -> None:
    """Sent as they are (the plain Client does not read local files), so the service's own checks answer."""
    with Client(embed_service.address("grpc")) as plain:
        with pytest.raises(ExecutorError, match=message):
            plain.post("/encode", [Document(text="a good neighbour"), doc])
        assert plain.post("/encode", [Document(text="still serving")])[0].embedding is not None


def test_an_empty_document_is_encoded_to_nothing_and_refused_by_the_index(embed_service: EmbedService) -> None:
    """As CLIP-as-service: clip_client's profile() sends one empty document to time the network alone."""
    with Client(embed_service.address("grpc")) as plain:
        (same,) = plain.post("/", [Document(id="empty")])
        assert (same.id, same.embedding) == ("empty", None)
        with pytest.raises(ExecutorError, match="document empty has no text, blob, tensor or uri"):
            plain.post("/index", [Document(id="empty")])


def test_an_empty_string_is_refused_before_sending(client: EmbedClient) -> None:
    with pytest.raises(ValueError, match="input 1 is an empty string"):
        client.encode(["a sentence", ""])


def test_mixed_texts_and_images_in_one_string_call_say_what_to_do(
    client: EmbedClient, embed_service: EmbedService
) -> None:
    with pytest.raises(ValueError, match="different spaces; encode them in separate calls"):
        client.encode(["a sentence", embed_service.image_url("0.png")])


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_index_survives_a_restart(tmp_path: Path, kind: IndexKind) -> None:
    workspace = str(tmp_path / "index")
    settings: dict[str, Any] = {"host": "127.0.0.1", "protocol": "grpc", "workspace": workspace, "index": kind}
    with embed_flow(**settings) as flow, _client(flow) as client:
        client.index(["a lighthouse on a rocky coast", "a bowl of ramen"])
        client.index([Document(text="a lighthouse on a rocky coast, replaced", id="x")])
        client.index([Document(text="the replacement text", id="x")])
    with embed_flow(**settings) as flow, _client(flow) as client:
        (hit,) = client.search(["coastal lighthouse"], limit=10)
    assert hit.matches[0].text == "a lighthouse on a rocky coast"
    texts = [match.text for match in hit.matches]
    assert sorted(texts) == sorted(["a lighthouse on a rocky coast", "a bowl of ramen", "the replacement text"])
    snapshots = sorted(path.name for path in Path(workspace).iterdir() if path.name.startswith("index-"))
    assert snapshots == [f"index-384-{kind}{'.npy' if kind == 'flat' else '.faiss'}"]


def _client(flow: Flow) -> EmbedClient:
    return EmbedClient(f"grpc://127.0.0.1:{flow.port}")


def test_docwire_serve_embed_command(tmp_path: Path) -> None:
    """The one command of the README, as a user runs it; stopped with Ctrl-C (SIGINT)."""
    grpc_port, http_port = _free_ports(2)
    ports = ["--port", str(grpc_port), str(http_port)]
    command = [sys.executable, "-m", "docwire.cli", "serve", "embed", "--host", "127.0.0.1", *ports]
    server = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with EmbedClient(f"grpc://127.0.0.1:{grpc_port}") as client:
            deadline = time.monotonic() + 90
            while True:
                try:
                    vectors = client.encode(["hello from the command line"])
                    break
                except Exception:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.5)
        assert vectors.shape == (1, 384)
        with EmbedClient(f"http://127.0.0.1:{http_port}") as client:
            assert client.encode(["and over HTTP"]).shape == (1, 384)
    finally:
        server.send_signal(2)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output.decode()


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports
