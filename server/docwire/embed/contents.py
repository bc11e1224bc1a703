"""What a document asks the encoder to embed: its text, or an image from its blob, tensor or uri.

The rules are the seed's: a document with ``text`` is a sentence (even if it also has a uri);
otherwise ``blob``, ``tensor`` or ``uri`` (``data:``, ``http(s)://``, and, when the service
allows it, ``file://`` or a local path) holds an image. Every failure is a ValueError that
names the document and the input, so one bad document's error says what to fix.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from docwire.embed.image_preprocessing import decode_image, tensor_image

__all__ = ["ContentReader", "Modality"]

Modality = str  # "text" or "image"

_REMOTE_SCHEMES = ("http://", "https://", "data:")


@dataclass(frozen=True)
class ContentReader:
    """Reads documents' contents for the encoder.

    Attributes:
        allow_local_files: whether a ``file://`` uri or a path is read from the server's disk.
            Off by default: a remote caller should not make the service open its files (the
            clients send a local file's bytes as ``blob`` instead).
        fetch_timeout: seconds allowed to fetch one ``http(s)`` uri.
        max_image_bytes: the largest image read from a uri.
    """

    allow_local_files: bool = False
    fetch_timeout: float = 10.0
    max_image_bytes: int = 32 * 1024 * 1024

    def read(self, doc: Any) -> str | Image.Image:
        """The sentence or the image ``doc`` holds.

        Raises:
            ValueError: the document holds nothing to embed, or its image cannot be read.
        """
        if doc.text:
            return str(doc.text)
        if doc.blob:
            return decode_image(bytes(doc.blob), source=f"document {doc.id}: blob")
        if doc.tensor is not None:
            try:
                return tensor_image(np.asarray(doc.tensor))
            except ValueError as exc:
                raise ValueError(f"document {doc.id}: tensor: {exc}") from exc
        uri = getattr(doc, "uri", None) or doc.url
        if uri:
            return decode_image(self._fetch(str(uri), doc.id), source=f"document {doc.id}: {_shown(uri)}")
        raise ValueError(f"document {doc.id} has no text, blob, tensor or uri to embed")

    def _fetch(self, uri: str, doc_id: object) -> bytes:
        where = f"document {doc_id}: {_shown(uri)}"
        if not uri.startswith(_REMOTE_SCHEMES):
            if not self.allow_local_files:
                raise ValueError(
                    f"{where}: the service does not read files from its own disk; send the file's bytes as "
                    "blob (the docwire clients do), or serve the encoder with allow_local_files: true"
                )
            if not uri.startswith("file:"):
                uri = f"file:{urllib.request.pathname2url(uri)}"
        try:
            with urllib.request.urlopen(uri, timeout=self.fetch_timeout) as response:
                data: bytes = response.read(self.max_image_bytes + 1)
        except (OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise ValueError(f"{where}: cannot read the image ({reason})") from exc
        if len(data) > self.max_image_bytes:
            raise ValueError(f"{where}: the image is larger than {self.max_image_bytes} bytes")
        return data


def _shown(uri: str) -> str:
    """A uri short enough for an error message (data URIs can be megabytes)."""
    return uri if len(uri) <= 80 else f"{uri[:60]}...({len(uri)} characters)"
