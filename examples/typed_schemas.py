"""Typed endpoints: DocList[In] -> DocList[Out] from annotations or request_schema/response_schema (seed 003)."""

from __future__ import annotations

import numpy as np
from docarray.typing import AnyTensor

from docwire import BaseDoc, Deployment, DocList, Executor, requests


class BarInputDoc(BaseDoc):
    text: str = ""


class BarOutputDoc(BaseDoc):
    text: str = ""
    embedding: AnyTensor | None = None


def embed(text: str) -> np.ndarray:
    """A stand-in for a model: 8 numbers derived from the text."""
    return np.array([len(text) + i for i in range(8)], dtype=np.float32)


class MyExecutor(Executor):
    @requests(on="/index")
    async def bar(self, docs: DocList[BarInputDoc], **kwargs: object) -> DocList[BarOutputDoc]:
        return DocList[BarOutputDoc](BarOutputDoc(text=d.text, embedding=embed(d.text)) for d in docs)

    @requests(on="/explicit", request_schema=DocList[BarInputDoc], response_schema=DocList[BarOutputDoc])
    async def explicit(self, docs, **kwargs):  # type: ignore[no-untyped-def]
        return DocList[BarOutputDoc](BarOutputDoc(text=d.text.upper(), embedding=embed(d.text)) for d in docs)


def main() -> None:
    with Deployment(uses=MyExecutor) as dep:
        inputs = DocList[BarInputDoc]([BarInputDoc(text="hello"), BarInputDoc(text="docwire")])
        for endpoint in ("/index", "/explicit"):
            docs = dep.post(on=endpoint, inputs=inputs, return_type=DocList[BarOutputDoc])
            for doc in docs:
                print(endpoint, doc.text, doc.embedding)
            assert docs[1].embedding is not None
            assert docs[1].embedding.tolist() == embed("docwire").tolist()


if __name__ == "__main__":
    main()
