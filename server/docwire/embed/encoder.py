"""The embedding service's encoder executor: ``/encode`` (and ``/``), the embedding step of
``/index`` and ``/search``, and ``/rank``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from docarray import DocList
from numpy.typing import NDArray
from PIL import Image

from docwire.embed.contents import ContentReader
from docwire.embed.image_encoder import ImageEncoder
from docwire.embed.text_encoder import TextEncoder
from docwire.executor.base import Executor
from docwire.executor.decorators import requests
from docwire_contract.doc_types import Document

__all__ = ["Encoder"]

#: Endpoints that only embed: ``/`` is what clip_client and the seed's curl call.
ENCODE_ENDPOINTS = ("/", "/encode")
#: Endpoints whose embeddings the indexer then stores or searches with.
INDEXING_ENDPOINTS = ("/index", "/search")


class Encoder(Executor):
    """Embeds each document's text or image (see ``docwire.embed.contents`` for which).

    Texts go through the text model and images through the image model, each as one batch
    per request. ``/rank`` scores every match against its parent document and sorts the
    matches, best first.

    Args:
        threads: ONNX Runtime threads per model (0: one per core).
        allow_local_files: read ``file://`` uris and paths from this machine's disk.
        fetch_timeout: seconds to fetch one ``http(s)`` image uri.
        logit_scale: how sharply ``/rank``'s softmax separates scores (20, the scale the text
            model was trained with; CLIP uses 100).
    """

    def __init__(
        self,
        threads: int = 0,
        allow_local_files: bool = False,
        fetch_timeout: float = 10.0,
        logit_scale: float = 20.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._reader = ContentReader(allow_local_files=allow_local_files, fetch_timeout=fetch_timeout)
        self._text = TextEncoder(threads=threads)
        self._image = ImageEncoder(threads=threads)
        self._logit_scale = logit_scale

    @requests(on=ENCODE_ENDPOINTS)
    def encode(
        self, docs: DocList[Document], parameters: dict[str, Any] | None = None, **kwargs: Any
    ) -> DocList[Document]:
        """Sets every document's ``embedding``; a document with only an embedding keeps it.

        A document with nothing to embed comes back as it came, without an embedding: that is
        how clip_client's ``profile()`` measures the network alone (CLIP-as-service does the same).
        With ``parameters={"drop_image_content": True}`` the replies leave out the images'
        bytes and tensors (the docwire clients ask for that: they have them already).
        """
        return self._embed_each(docs, parameters, skip_empty=True)

    @requests(on=INDEXING_ENDPOINTS)
    def encode_for_index(
        self, docs: DocList[Document], parameters: dict[str, Any] | None = None, **kwargs: Any
    ) -> DocList[Document]:
        """As ``encode``, but a document with nothing to embed is an error: the index cannot hold it."""
        return self._embed_each(docs, parameters, skip_empty=False)

    def _embed_each(
        self, docs: DocList[Document], parameters: dict[str, Any] | None, skip_empty: bool
    ) -> DocList[Document]:
        todo = [doc for doc in docs if not _only_embedding(doc) and not (skip_empty and _empty(doc))]
        for doc, vector in zip(todo, self.embed([self._reader.read(doc) for doc in todo]), strict=True):
            doc.embedding = vector  # type: ignore[assignment]  # docarray validates it into an NdArray
        if (parameters or {}).get("drop_image_content"):
            _drop_image_content(docs)
        return docs

    @requests(on="/rank")
    def rank(
        self, docs: DocList[Document], parameters: dict[str, Any] | None = None, **kwargs: Any
    ) -> DocList[Document]:
        """Scores each document's matches against it and sorts them by ``scores['clip_score']``, best first.

        ``clip_score`` is the softmax of ``logit_scale`` x cosine over the document's matches,
        as CLIP-as-service computes it; ``clip_score_cosine`` is the cosine itself.
        """
        contents: list[str | Image.Image] = []
        for doc in docs:
            query = self._reader.read(doc)
            candidates = [self._reader.read(match) for match in doc.matches or ()]
            _require_one_space(doc.id, query, candidates)
            contents += [query, *candidates]
        vectors = iter(self.embed(contents))
        for doc in docs:
            if not doc.matches:
                next(vectors)
                continue
            query_vector = next(vectors)
            matches = list(doc.matches)
            cosines = np.array([float(next(vectors) @ query_vector) for _ in matches], np.float64)
            logits = self._logit_scale * cosines
            probabilities = np.exp(logits - logits.max())
            probabilities /= probabilities.sum()
            for match, cosine, probability in zip(matches, cosines, probabilities, strict=True):
                scores = {"clip_score": float(probability), "clip_score_cosine": float(cosine)}
                match.scores = {**(match.scores or {}), **scores}
            matches.sort(key=lambda match: float(match.scores["clip_score"]) if match.scores else 0.0, reverse=True)
            doc.matches = type(doc.matches)(matches)
        if (parameters or {}).get("drop_image_content"):
            _drop_image_content(docs)
            for doc in docs:
                _drop_image_content(doc.matches or ())
        return docs

    def embed(self, contents: Sequence[str | Image.Image]) -> list[NDArray[np.float32]]:
        """One unit vector per content, in order: texts through the text model, images through the image model."""
        texts = [i for i, content in enumerate(contents) if isinstance(content, str)]
        images = [i for i, content in enumerate(contents) if not isinstance(content, str)]
        vectors: list[NDArray[np.float32]] = [np.empty(0, np.float32)] * len(contents)
        if texts:
            for i, row in zip(texts, self._text.encode([str(contents[i]) for i in texts]), strict=True):
                vectors[i] = row
        if images:
            pictures = [content for content in contents if not isinstance(content, str)]
            for i, row in zip(images, self._image.encode(pictures), strict=True):
                vectors[i] = row
        return vectors


def _drop_image_content(docs: Iterable[Any]) -> None:
    for doc in docs:
        if not doc.text:
            doc.blob = None
            doc.tensor = None


def _only_embedding(doc: Document) -> bool:
    """A document that carries an embedding and nothing to compute one from (a vector query)."""
    return doc.embedding is not None and _empty(doc)


def _empty(doc: Document) -> bool:
    """A document with nothing to compute an embedding from."""
    return not (doc.text or doc.blob or doc.tensor is not None or doc.uri or doc.url)


def _require_one_space(doc_id: object, query: str | Image.Image, candidates: Sequence[str | Image.Image]) -> None:
    kind = isinstance(query, str)
    if any(isinstance(candidate, str) != kind for candidate in candidates):
        raise ValueError(
            f"document {doc_id}: ranking images against texts needs one model for both, and no packaged model "
            "embeds them into one space; rank texts against a text or images against an image"
        )
