"""The embedding service's client (``docwire serve embed``): encode, rank, index, search, profile.

The API of seed 001's client on docwire's AsyncClient: every method streams its inputs in
requests of ``batch_size`` documents with at most ``prefetch`` in flight, pulls generator
inputs lazily, and has an ``a``-prefixed coroutine for use beside other asyncio tasks.

    from docwire import EmbedClient

    c = EmbedClient("grpc://127.0.0.1:51000")
    vectors = c.encode(["she smiled, with pain", "apple.png"])   # ndarray, one row per input
    c.index(docs)
    hits = c.search(["smile"], limit=2)                          # queries with .matches

Strings are auto-detected as sentences or images (``docwire_client.embed_inputs``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator, Mapping
from itertools import chain
from typing import Any, TypeVar

import numpy as np
from docarray import BaseDoc, DocList
from docarray.typing import AnyEmbedding
from numpy.typing import NDArray

from docwire_client.aio import AsyncClient
from docwire_client.embed_inputs import prepared, string_document
from docwire_client.loop_thread import LoopThread
from docwire_client.response import Response
from docwire_contract.conventions import DEFAULT_MAX_MESSAGE_BYTES
from docwire_contract.doc_types import Document

__all__ = ["EmbedClient", "EmbeddingDoc"]

R = TypeVar("R")

#: The text embedded by ``profile()`` when it is given nothing (an empty document embeds to nothing).
PROFILE_TEXT = "hello, world"


class EmbeddingDoc(BaseDoc):
    """What ``encode`` reads back from each reply: the embedding only (texts and images are not decoded)."""

    embedding: AnyEmbedding | None = None


class EmbedClient:
    """Calls the embedding service: ``encode``, ``rank``, ``index``, ``search``, ``profile`` (+ ``a``-variants).

    Args:
        server: the service's address, ``scheme://host:port`` with scheme ``grpc``, ``http``,
            ``websocket`` or their TLS forms ``grpcs``, ``https``, ``websockets``.
        root_certificates: PEM CA certificates to verify a TLS server with.
        max_message_size: the largest message, in bytes, sent or received.

    Sync methods run on the process's shared client event loop (``loop_thread``) and are safe
    to call from any thread; ``a``-methods run on the caller's event loop.
    """

    def __init__(
        self,
        server: str = "grpc://127.0.0.1:51000",
        *,
        root_certificates: bytes | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        settings: dict[str, Any] = {"root_certificates": root_certificates, "max_message_size": max_message_size}
        # gRPC channels belong to one event loop: one client for the shared loop, one for the caller's loop.
        self._for_sync = AsyncClient(server, **settings)
        self._for_async = AsyncClient(server, **settings)

    @property
    def server(self) -> str:
        return self._for_async.target.uri

    # ---- encode -------------------------------------------------------------------------------
    def encode(self, content: Iterable[str] | Iterable[Any], **kwargs: Any) -> Any:
        """Embeds sentences and images; see :meth:`aencode`."""
        return self._run(self._encode(self._for_sync, content, **kwargs))

    async def aencode(self, content: Iterable[str] | Iterable[Any], **kwargs: Any) -> Any:
        """Embeds sentences and images.

        Args:
            content: strings (auto-detected as sentences or images), or documents with
                ``text``, ``uri``, ``blob`` or ``tensor`` (``text`` wins when several are set).
            batch_size: inputs per request (default 8).
            show_progress: draw a progress bar.
            prefetch: the most requests in flight.
            parameters: passed to the service's executors.
            on_done, on_error, on_always: called with each reply (``Response``); with any of
                them nothing is accumulated and None is returned.

        Returns:
            For strings, a float32 ``[N, D]`` ndarray, a row per input in input order (texts and
            images embed into different sizes: encode them in separate calls). For documents,
            a DocList of the same documents, in input order, each with ``.embedding`` set.

        Raises:
            UnreadableInput: an input names an image file that cannot be read.
            ExecutorError: the service could not embed an input (the message names it).
        """
        return await self._encode(self._for_async, content, **kwargs)

    async def _encode(
        self,
        client: AsyncClient,
        content: Iterable[str] | Iterable[Any],
        *,
        batch_size: int = 8,
        parameters: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        first, items = _peek(content)
        keep = not _has_callbacks(kwargs)  # with callbacks, replies go to them and nothing is kept
        if isinstance(first, str):
            rows: list[NDArray[np.float32]] = []
            docs = (string_document(text, i) for i, text in enumerate(items))
            replies = _replies(client, "/", docs, batch_size, parameters, EmbeddingDoc, kwargs)
            async for response in replies:
                if keep:
                    rows.append(_embeddings(response.docs))
            return _stack(rows) if keep else None
        originals: list[Any] = []

        def remembered(docs: Iterable[Any]) -> Iterator[Any]:
            for i, doc in enumerate(docs):
                if keep:
                    originals.append(doc)
                yield prepared(doc, i)

        done = 0
        async for response in _replies(client, "/", remembered(items), batch_size, parameters, EmbeddingDoc, kwargs):
            for reply in response.docs:
                if keep:
                    originals[done].embedding = reply.embedding
                done += 1
        return DocList[Document](originals) if keep else None

    # ---- rank, index, search ------------------------------------------------------------------
    def rank(self, docs: Iterable[Any], **kwargs: Any) -> Any:
        """Re-ranks each document's matches; see :meth:`arank`."""
        return self._run(self._documents(self._for_sync, "/rank", docs, **kwargs))

    async def arank(self, docs: Iterable[Any], **kwargs: Any) -> Any:
        """Scores each document's ``matches`` against it and sorts them, best first.

        Each match gets ``scores['clip_score']`` (softmax over the document's matches) and
        ``scores['clip_score_cosine']``. The query and its matches must be of one kind
        (texts, or images): the packaged models embed texts and images into different
        spaces. Keywords as :meth:`aencode`. Returns the ranked documents in input order.
        """
        return await self._documents(self._for_async, "/rank", docs, **kwargs)

    def index(self, content: Iterable[str] | Iterable[Any], **kwargs: Any) -> Any:
        """Embeds and stores documents; see :meth:`aindex`."""
        return self._run(self._documents(self._for_sync, "/index", content, **kwargs))

    async def aindex(self, content: Iterable[str] | Iterable[Any], **kwargs: Any) -> Any:
        """Embeds the inputs (strings or documents, as :meth:`aencode`) and stores them in the
        service's index; returns the documents with their embeddings, in input order."""
        return await self._documents(self._for_async, "/index", content, **kwargs)

    def search(self, content: Iterable[str] | Iterable[Any], *, limit: int = 10, **kwargs: Any) -> Any:
        """Finds indexed documents near each query; see :meth:`asearch`."""
        return self._run(self._documents(self._for_sync, "/search", content, limit=limit, **kwargs))

    async def asearch(self, content: Iterable[str] | Iterable[Any], *, limit: int = 10, **kwargs: Any) -> Any:
        """Embeds each query (string or document) and returns the queries, each with ``.matches``:
        the ``limit`` nearest indexed documents, closest first, ``scores['cosine']`` their
        cosine distance (0 is identical). Texts find texts, images find images."""
        return await self._documents(self._for_async, "/search", content, limit=limit, **kwargs)

    async def _documents(
        self,
        client: AsyncClient,
        endpoint: str,
        content: Iterable[str] | Iterable[Any],
        *,
        batch_size: int = 8,
        parameters: Mapping[str, Any] | None = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> Any:
        if limit is not None:
            parameters = {**(parameters or {}), "limit": limit}
        _, items = _peek(content)
        docs = (
            string_document(item, i) if isinstance(item, str) else _with_matches(prepared(item, i), i)
            for i, item in enumerate(items)
        )
        results = DocList[Document]()
        async for response in _replies(client, endpoint, docs, batch_size, parameters, None, kwargs):
            list.extend(results, response.docs)
        return None if _has_callbacks(kwargs) else results

    # ---- profile ------------------------------------------------------------------------------
    def profile(self, content: str | None = None) -> dict[str, float]:
        """Where one request's time goes; see :meth:`aprofile`."""
        return self._run(self.aprofile(content))

    async def aprofile(self, content: str | None = None) -> dict[str, float]:
        """Embeds one input (a sentence, or an image path or URL; ``"hello, world"`` by default),
        prints the latency tree (round trip, network, gateway, each executor) and returns it in ms."""
        doc = string_document(PROFILE_TEXT if content is None else content, 0)
        return await self._for_async.profiling("/encode", doc)

    # ---- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        """Closes the connections (a later call opens new ones)."""
        self._run(self._for_sync.close())

    async def aclose(self) -> None:
        await self._for_async.close()

    def __enter__(self) -> EmbedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> EmbedClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @staticmethod
    def _run(coroutine: Coroutine[Any, Any, R]) -> R:
        return LoopThread.shared().run(coroutine)


async def _replies(
    client: AsyncClient,
    endpoint: str,
    docs: Iterable[Any],
    batch_size: int,
    parameters: Mapping[str, Any] | None,
    return_type: type[BaseDoc] | None,
    kwargs: Mapping[str, Any],
) -> AsyncIterator[Response[Any]]:
    """Every reply, in input order; the service drops image bytes from its replies (the client has them)."""
    settings: dict[str, Any] = {
        "request_size": batch_size,
        "results_in_order": True,
        "return_responses": True,
        "parameters": {"drop_image_content": True, **(parameters or {})},
        **kwargs,
    }
    if return_type is not None:
        settings["return_type"] = DocList[return_type]  # type: ignore[valid-type]
    replies = client.post(endpoint, docs, **settings)
    async with contextlib.aclosing(replies):  # type: ignore[type-var]
        async for response in replies:
            if not response.is_error:
                yield response


def _peek(content: Iterable[R]) -> tuple[R | None, Iterable[R]]:
    """The first item (None when empty) and an iterable that still yields every item."""
    if isinstance(content, str | bytes):
        raise TypeError("content must be an iterable of strings or documents, not one string: wrap it in a list")
    iterator = iter(content)
    for first in iterator:
        return first, chain((first,), iterator)
    return None, ()


def _with_matches(doc: Any, position: int) -> Any:
    """A rank query's matches with their local images read too."""
    if not doc.matches:
        return doc
    matches = [prepared(match, position) for match in doc.matches]
    return doc.model_copy(update={"matches": type(doc.matches)(matches)})


def _embeddings(docs: DocList[Any]) -> NDArray[np.float32]:
    vectors = [np.asarray(doc.embedding, np.float32) for doc in docs]
    sizes = {vector.shape for vector in vectors}
    if len(sizes) > 1:
        raise _mixed_sizes(sizes)
    return np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)


def _stack(rows: list[NDArray[np.float32]]) -> NDArray[np.float32]:
    rows = [row for row in rows if row.size]
    if not rows:
        return np.zeros((0, 0), np.float32)
    sizes = {row.shape[1:] for row in rows}
    if len(sizes) > 1:
        raise _mixed_sizes(sizes)
    return np.concatenate(rows)


def _mixed_sizes(sizes: set[tuple[int, ...]]) -> ValueError:
    return ValueError(
        f"the inputs embedded into vectors of different sizes {sorted(sizes)}: texts and images embed into "
        "different spaces; encode them in separate calls, or pass documents to get one embedding per document"
    )


def _has_callbacks(kwargs: Mapping[str, Any]) -> bool:
    return any(kwargs.get(name) is not None for name in ("on_done", "on_error", "on_always"))
