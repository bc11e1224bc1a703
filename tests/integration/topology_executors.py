"""Executors (and a reduce hook) the topology tests serve, imported by worker and gateway processes by name."""

from __future__ import annotations

import asyncio
from pathlib import Path

from docarray import DocList
from docarray.documents.legacy import LegacyDocument

from docwire import Document, Executor, requests


class Tagger(Executor):
    """Sets ``tags[key] = value`` on every document (and ``text`` when given and the text is empty)."""

    def __init__(self, key: str = "tag", value: str = "", text: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.key, self.value, self.text = key, value or self.runtime_args.name, text

    @requests
    async def tag(self, docs: DocList[Document], **kwargs: object) -> dict[str, object]:
        for doc in docs:
            doc.tags[self.key] = self.value
            if self.text and not doc.text:
                doc.text = self.text
        return {"saw": len(docs)}


class Stamper(Executor):
    """Appends ``[name]`` to the text of every document it gets."""

    @requests
    async def stamp(self, docs: DocList[Document], **kwargs: object) -> None:
        for doc in docs:
            doc.text = f"{doc.text or ''}[{self.runtime_args.name}]"


class Failing(Executor):
    """Raises on ``/fail``."""

    @requests(on="/fail")
    async def fail(self, **kwargs: object) -> None:
        raise RuntimeError(f"{self.runtime_args.name} fails on purpose")


class FailingOnFloat(Executor):
    """Raises on ``/float``."""

    @requests(on="/float")
    async def fail(self, **kwargs: object) -> None:
        raise RuntimeError(f"{self.runtime_args.name} fails on purpose")


class Waiter(Executor):
    """Waits (at most 60 s) for ``<folder>/release`` to exist, then writes the texts it got to ``<folder>/done``.

    A floating executor the tests release only once the client has its reply: had the
    gateway awaited it, the reply could not come first.
    """

    def __init__(self, folder: str = ".", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.folder = Path(folder)

    @requests(on="/float")
    async def wait(self, docs: DocList[Document], **kwargs: object) -> None:
        release = self.folder / "release"
        for _ in range(600):
            if release.exists():
                break
            await asyncio.sleep(0.1)
        outcome = "released" if release.exists() else "not released"
        (self.folder / "done").write_text(f"{outcome}: {','.join(str(text) for text in docs.text)}")
        for doc in docs:
            doc.text = "floating changed it"


class ShardIndex(Executor):
    """An in-memory index per shard: ``/index`` keeps documents, ``/search`` matches each query with all it keeps.

    Each match is scored by the number in its text and tagged with the shard that holds it.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.kept: list[Document] = []

    @requests(on="/index")
    async def index(self, docs: DocList[Document], **kwargs: object) -> dict[str, object]:
        self.kept.extend(docs)
        return {"shard": self.runtime_args.shard_id, "count": len(self.kept)}

    @requests(on="/search")
    async def search(self, docs: DocList[Document], **kwargs: object) -> None:
        for query in docs:
            query.matches = DocList[LegacyDocument](
                LegacyDocument(
                    id=doc.id,
                    text=doc.text,
                    tags={"shard": self.runtime_args.shard_id},
                    scores={"score": {"value": float(str(doc.text).rsplit("-", 1)[-1])}},
                )
                for doc in self.kept
            )

    @requests(on="/count")
    async def count(self, **kwargs: object) -> dict[str, object]:
        return {"count": len(self.kept)}


def best_two(docs_matrix: list[DocList[Document]]) -> DocList[Document]:
    """A reduce hook: every shard's matches per query, best score first, cut to two."""
    merged = docs_matrix[0]
    for other in docs_matrix[1:]:
        for query, same in zip(merged, other, strict=True):
            query.matches = DocList[LegacyDocument]([*(query.matches or []), *(same.matches or [])])
    for query in merged:
        ranked = sorted(query.matches or [], key=lambda m: -(m.scores or {})["score"]["value"])
        query.matches = DocList[LegacyDocument](ranked[:2])
    return merged
