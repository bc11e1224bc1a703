"""What the embedding client sends for each input: auto-detection of strings and loading of local images.

A string is an image when it is one of:

* a ``data:image/...`` URI;
* an ``http://`` or ``https://`` URL with no whitespace in it (the service fetches it);
* a ``file://`` URI, or a path with no whitespace that names an existing file or ends in an
  image suffix (``.png``, ``.jpg``, ...); the client reads the file and sends its bytes.

Anything else is a sentence. Unlike the incumbent, which takes any string with a dot or a
slash for a path, sentences such as ``"see a.b"``, ``"and/or"`` or ``"e.g. this"`` stay text:
a path must look like one as a whole. An image path that cannot be read is an
:class:`UnreadableInput` naming the input, raised before its request is sent.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Final

from docwire_contract.doc_types import Document

__all__ = ["IMAGE_SUFFIXES", "UnreadableInput", "is_image_string", "prepared", "string_document"]

#: File suffixes taken for images even when no such file exists (reading it then fails clearly).
IMAGE_SUFFIXES: Final = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ico", ".ppm", ".pgm"}
)


class UnreadableInput(ValueError):
    """An input that names an image the client cannot read; the message names the input and why."""


def is_image_string(text: str) -> bool:
    """Whether ``text`` names an image (see the module's rules) rather than being a sentence."""
    if not text or any(ch.isspace() for ch in text):
        return False
    lowered = text.lower()
    if lowered.startswith("data:"):
        return lowered.startswith("data:image/")
    if lowered.startswith(("http://", "https://", "file://")):
        return True
    if Path(urllib.parse.urlsplit(lowered).path).suffix in IMAGE_SUFFIXES:
        return True
    try:
        return Path(text).expanduser().is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL: not a path, so a sentence
        return False


def string_document(text: str, position: int) -> Document:
    """The document sent for the ``position``-th input string: a sentence, or an image (local files read).

    Raises:
        ValueError: the string is empty (the service would send it back without an embedding).
    """
    if not text:
        raise ValueError(f"input {position} is an empty string: there is nothing to embed")
    if not is_image_string(text):
        return Document(text=text)
    image: Document = prepared(Document(uri=text), position)
    return image


def prepared(doc: Any, position: int) -> Any:
    """``doc`` as the service should receive it: a copy with a local image's bytes in ``blob``.

    Documents with text, blob or tensor, or whose uri the service fetches (``http(s)``,
    ``data:``), go as they are. The caller's document is never changed.
    """
    if doc.text or doc.blob or doc.tensor is not None:
        return doc
    uri = getattr(doc, "uri", None) or doc.url
    if not uri or str(uri).lower().startswith(("http://", "https://", "data:")):
        return doc
    return doc.model_copy(update={"blob": _read_local(str(uri), position)})


def _read_local(uri: str, position: int) -> bytes:
    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(uri).path)) if uri.startswith("file:") else Path(uri)
    try:
        return path.expanduser().read_bytes()
    except OSError as exc:
        raise UnreadableInput(f"input {position} ({uri!r}) names an image that cannot be read: {exc}") from exc
