"""A Flow beyond a chain: two branches merged by id, a ``when`` filter, a floating executor, shards.

Run it: ``.venv/bin/python examples/topology.py``.

    gateway ─┬─ language ──┐
             ├─ length ────┴─ shout (when: long texts only) ─> reply
             └─ audit (floating: the reply does not wait for it)
    gateway ── index (2 shards: /index to one in turn, /search to both, ranked by a reduce hook)
"""

from __future__ import annotations

from docarray.documents.legacy import LegacyDocument

from docwire import Client, DocList, Document, Executor, Flow, requests


class Language(Executor):
    @requests(on="/analyze")
    async def detect(self, docs: DocList[Document], **kwargs: object) -> None:
        for doc in docs:
            doc.tags["language"] = "en"


class Length(Executor):
    @requests(on="/analyze")
    async def measure(self, docs: DocList[Document], **kwargs: object) -> None:
        for doc in docs:
            doc.tags["length"] = len(doc.text or "")


class Shout(Executor):
    @requests(on="/analyze")
    async def shout(self, docs: DocList[Document], **kwargs: object) -> None:
        for doc in docs:
            doc.text = (doc.text or "").upper()


class Audit(Executor):
    @requests(on="/analyze")
    async def audit(self, docs: DocList[Document], **kwargs: object) -> None:
        raise RuntimeError("the audit log is down")  # logged by the gateway, never returned: it floats


class Index(Executor):
    """Each shard keeps what it is sent; a search matches every kept text containing the query."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.kept: list[str] = []

    @requests(on="/index")
    async def index(self, docs: DocList[Document], **kwargs: object) -> None:
        self.kept.extend(doc.text or "" for doc in docs)

    @requests(on="/search")
    async def search(self, docs: DocList[Document], **kwargs: object) -> None:
        for query in docs:
            query.matches = DocList[LegacyDocument](
                LegacyDocument(text=text, tags={"shard": self.runtime_args.shard_id}, scores={"hits": len(text)})
                for text in self.kept
                if (query.text or "") in text
            )


def longest_first(docs_matrix: list[DocList[Document]]) -> DocList[Document]:
    """The reduce hook: every shard's matches for a query, longest text first, three at most."""
    merged = docs_matrix[0]
    for shard in docs_matrix[1:]:
        for query, same in zip(merged, shard, strict=True):
            query.matches = DocList[LegacyDocument]([*(query.matches or []), *(same.matches or [])])
    for query in merged:
        ranked = sorted(query.matches or [], key=lambda m: -len(m.text or ""))
        query.matches = DocList[LegacyDocument](ranked[:3])
    return merged


def main() -> None:
    flow = (
        Flow()
        .add(uses=Language, name="language", needs="gateway")
        .add(uses=Length, name="length", needs="gateway")
        .add(uses=Shout, name="shout", needs=["language", "length"], when={"tags__length": {"$gte": 10}})
        .add(uses=Audit, name="audit", needs="gateway", floating=True)
        .add(uses=Index, name="index", needs="gateway", shards=2, polling={"/search": "ALL"}, reduce=longest_first)
    )
    with flow:
        client = Client(port=flow.port)
        docs = client.post("/analyze", [Document(text="hi"), Document(text="hello, world")])
        print([(doc.text, doc.tags["language"], doc.tags["length"]) for doc in docs])
        assert docs.text == ["hi", "HELLO, WORLD"]  # "hi" is short: it went by shout unchanged

        texts = ["red fox", "a red kite flies", "red", "blue whale", "the red planet"]  # shards 0, 1, 0, 1, 0
        client.post("/index", [Document(text=text) for text in texts], request_size=1)
        (query,) = client.post("/search", Document(text="red"))
        found = [(m.text, m.tags["shard"]) for m in query.matches or []]
        print(found)
        assert found == [("a red kite flies", 1), ("the red planet", 0), ("red fox", 0)]


if __name__ == "__main__":
    main()
