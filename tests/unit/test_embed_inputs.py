"""How the embedding client reads its inputs: which strings are images, and local images read for the request."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from docwire import Document
from docwire_client.embed_inputs import UnreadableInput, is_image_string, prepared, string_document

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize(
    "text",
    [
        "see a.b",  # clip-as-service #880: a dot made it a path
        "and/or",  # ... and so did a slash
        "e.g. this",
        "a.b",
        "she smiled, with pain",
        "http://example.com is down",  # a URL inside a sentence
        "data:text/plain,hello",  # a data URI, but not of an image
        "",
        "x" * 5000,  # too long for a file name
    ],
)
def test_sentences_are_text(text: str) -> None:
    assert not is_image_string(text)
    if text:
        assert string_document(text, 0).text == text


@pytest.mark.parametrize(
    "text",
    [
        "apple.png",
        "photos/2024/IMG_0001.JPG",
        "https://clip-as-service.jina.ai/_static/favicon.png",
        "http://127.0.0.1:8000/image?id=3",
        "file:///tmp/apple.png",
        "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
    ],
)
def test_image_names_are_images(text: str) -> None:
    assert is_image_string(text)


def test_an_existing_file_without_an_image_suffix_is_an_image(tmp_path: Path) -> None:
    picture = tmp_path / "picture"
    picture.write_bytes(PNG)
    assert is_image_string(str(picture))
    assert string_document(str(picture), 0).blob == PNG


def test_local_images_are_read_into_a_copy(tmp_path: Path) -> None:
    picture = tmp_path / "apple.png"
    picture.write_bytes(PNG)
    for uri in (str(picture), picture.as_uri()):
        original = Document(uri=uri)
        sent = prepared(original, 0)
        assert sent.blob == PNG
        assert sent.uri == uri
        assert original.blob is None


def test_remote_and_inline_content_goes_as_it_is() -> None:
    for doc in (
        Document(uri="https://example.com/a.png"),
        Document(uri="data:image/png;base64,AAAA"),
        Document(text="words"),
        Document(blob=PNG, uri="/nowhere.png"),
    ):
        assert prepared(doc, 0) is doc


def test_an_unreadable_image_path_names_the_input(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInput, match=r"input 3 \('.*missing.png'\) names an image that cannot be read"):
        string_document(str(tmp_path / "missing.png"), 3)
    folder = tmp_path / "folder.png"
    folder.mkdir()
    with pytest.raises(UnreadableInput, match="input 0"):
        prepared(Document(uri=str(folder)), 0)
