"""The embedding service's indexer executor: ``/index`` keeps documents, ``/search`` finds them.

Documents live in a workspace folder, so a restarted service keeps its index:
``documents.sqlite`` holds every indexed document with its embedding (written before
``/index`` answers, so an answered request is never lost), and ``index-<size>.faiss`` is a
snapshot of the vector index per embedding size, written on shutdown. On start the snapshot
is loaded and whatever was indexed after it is added from the database, so a crash costs
only that replay.

Embeddings of different sizes (the text model's 384 floats, the image model's 1280) are kept
in separate indexes: a query searches the index of its own size. Indexing a document id again
replaces the earlier entry.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from docarray import DocList
from docarray.documents.legacy import LegacyDocument
from numpy.typing import NDArray

from docwire.embed.vector_index import IndexKind, VectorIndex, open_index
from docwire.executor.base import Executor
from docwire.executor.decorators import requests
from docwire_contract.doc_types import Document

__all__ = ["Indexer"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    size INTEGER NOT NULL,          -- embedding size: which vector index the row belongs to
    position INTEGER NOT NULL,      -- the row's id in that index
    doc_id TEXT NOT NULL,
    replaced INTEGER NOT NULL DEFAULT 0,
    embedding BLOB NOT NULL,        -- float32, little-endian
    document BLOB NOT NULL,         -- JSON: id, text, uri, tags
    PRIMARY KEY (size, position)
);
CREATE INDEX IF NOT EXISTS documents_by_id ON documents (doc_id);
"""

#: Fields of an indexed document that its matches carry (not its embedding, blob or tensor).
_KEPT_FIELDS = ("id", "text", "tags")


class Indexer(Executor):
    """Stores embedded documents and answers nearest-neighbour queries.

    Args:
        index: ``"flat"`` (exact, the default; fast enough for a few hundred thousand
            vectors) or ``"hnsw"`` (approximate, for more).
        ef_search: how widely ``hnsw`` searches (higher: better recall, slower).
        default_limit: matches per query when the request's parameters give no ``limit``.

    Serve it with one replica: each replica would keep an index of its own.
    """

    def __init__(self, index: IndexKind = "flat", ef_search: int = 128, default_limit: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kind: IndexKind = index
        self._ef_search = ef_search
        self._default_limit = default_limit
        configured = self.runtime_args.workspace
        self._scratch = None if configured else tempfile.TemporaryDirectory(prefix="docwire-index-")
        self.workspace = Path(configured or self._scratch.name)  # type: ignore[union-attr]
        self.workspace.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.workspace / "documents.sqlite", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._indexes: dict[int, VectorIndex] = {}
        self._replaced: dict[int, set[int]] = defaultdict(set)
        self._restore()

    @requests(on="/index")
    def index(self, docs: DocList[Document], **kwargs: Any) -> DocList[Document]:
        """Keeps every document with its embedding; answers with the documents as sent."""
        rows = [(doc, _vector(doc)) for doc in docs]
        by_size: dict[int, list[tuple[Document, NDArray[np.float32]]]] = defaultdict(list)
        for doc, vector in rows:
            by_size[vector.shape[0]].append((doc, vector))
        with self._db:
            self._replace([str(doc.id) for doc in docs])
            for size, group in by_size.items():
                index = self._index_of(size)
                start = len(index)
                self._db.executemany(
                    "INSERT INTO documents (size, position, doc_id, embedding, document) VALUES (?, ?, ?, ?, ?)",
                    [
                        (size, start + i, str(doc.id), vector.tobytes(), _kept(doc))
                        for i, (doc, vector) in enumerate(group)
                    ],
                )
                index.add(np.stack([vector for _, vector in group]))
        return docs

    @requests(on="/search")
    def search(
        self, docs: DocList[Document], parameters: dict[str, Any] | None = None, **kwargs: Any
    ) -> DocList[Document]:
        """Sets each query's ``matches``: the ``limit`` nearest documents, ``scores['cosine']`` the cosine distance."""
        limit = _limit((parameters or {}).get("limit", self._default_limit))
        for doc in docs:
            vector = _vector(doc)
            doc.matches = DocList[LegacyDocument](self._nearest(vector, limit))
        return docs

    def close(self) -> None:
        for size, index in self._indexes.items():
            index.save(self._snapshot(size))
        self._db.close()
        if self._scratch is not None:
            self._scratch.cleanup()

    def _nearest(self, vector: NDArray[np.float32], limit: int) -> Iterator[LegacyDocument]:
        index = self._indexes.get(vector.shape[0])
        if index is None or len(index) == 0 or limit == 0:
            return
        replaced = self._replaced[vector.shape[0]]
        similarities, positions = index.search(vector[None, :], min(len(index), limit + len(replaced)))
        found = [(int(p), float(s)) for p, s in zip(positions[0], similarities[0], strict=True) if p >= 0]
        found = [(p, s) for p, s in found if p not in replaced][:limit]
        stored = self._documents(vector.shape[0], [p for p, _ in found])
        for position, similarity in found:
            match = LegacyDocument(**orjson.loads(stored[position]))
            match.scores = {"cosine": 1.0 - similarity}
            yield match

    def _documents(self, size: int, positions: Sequence[int]) -> dict[int, bytes]:
        marks = ",".join("?" * len(positions))
        query = f"SELECT position, document FROM documents WHERE size = ? AND position IN ({marks})"
        return dict(self._db.execute(query, (size, *positions)).fetchall())

    def _replace(self, doc_ids: Sequence[str]) -> None:
        """Marks earlier entries of these ids replaced (kept in the index, left out of results)."""
        marks = ",".join("?" * len(doc_ids))
        where = f"replaced = 0 AND doc_id IN ({marks})"
        for size, position in self._db.execute(f"SELECT size, position FROM documents WHERE {where}", doc_ids):
            self._replaced[size].add(position)
        self._db.execute(f"UPDATE documents SET replaced = 1 WHERE {where}", doc_ids)

    def _index_of(self, size: int) -> VectorIndex:
        if size not in self._indexes:
            self._indexes[size] = open_index(self._kind, size, ef_search=self._ef_search)
        return self._indexes[size]

    def _snapshot(self, size: int) -> Path:
        suffix = ".npy" if self._kind == "flat" else ".faiss"
        return self.workspace / f"index-{size}-{self._kind}{suffix}"

    def _restore(self) -> None:
        """Loads each size's snapshot, then adds the rows indexed after it was written."""
        for size, count in self._db.execute("SELECT size, COUNT(*) FROM documents GROUP BY size").fetchall():
            index = open_index(self._kind, size, self._snapshot(size), self._ef_search)
            if len(index) > count:  # a snapshot newer than the database cannot be trusted: rebuild
                index = open_index(self._kind, size, ef_search=self._ef_search)
            self._indexes[size] = index
            rows = self._db.execute(
                "SELECT embedding FROM documents WHERE size = ? AND position >= ? ORDER BY position", (size, len(index))
            )
            while batch := rows.fetchmany(10_000):
                index.add(np.frombuffer(b"".join(row[0] for row in batch), np.float32).reshape(-1, size))
            replaced = self._db.execute("SELECT position FROM documents WHERE size = ? AND replaced = 1", (size,))
            self._replaced[size] = {row[0] for row in replaced}


def _vector(doc: Document) -> NDArray[np.float32]:
    if doc.embedding is None:
        raise ValueError(f"document {doc.id} has no embedding: put an encoder before the indexer")
    vector = np.asarray(doc.embedding, np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _kept(doc: Document) -> bytes:
    kept: dict[str, Any] = {name: getattr(doc, name) for name in _KEPT_FIELDS if getattr(doc, name)}
    if doc.uri or doc.url:
        kept["url"] = doc.uri or doc.url  # a match is a LegacyDocument, which calls it url
    return orjson.dumps(kept)


def _limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or int(value) != value:
        raise ValueError(f"parameters.limit must be a whole number >= 0, not {value!r}")
    return int(value)
