"""A generator endpoint streams documents one by one to the client (seed 003)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from docwire import AsyncClient, BaseDoc, Deployment, Executor, requests


class MyDocument(BaseDoc):
    text: str


class MyExecutor(Executor):
    @requests(on="/hello")
    async def task(self, doc: MyDocument, **kwargs: object) -> AsyncIterator[MyDocument]:
        for i in range(5):
            yield MyDocument(text=f"{doc.text} {i}")


async def consume(port: int) -> list[str]:
    client = AsyncClient(port=port)  # or Client(port=port, asyncio=True)
    texts = []
    async for doc in client.stream_doc(on="/hello", inputs=MyDocument(text="hello world"), return_type=MyDocument):
        print(doc.text)
        texts.append(doc.text)
    await client.close()
    return texts


def main() -> None:
    with Deployment(uses=MyExecutor) as dep:
        assert dep.port is not None
        texts = asyncio.run(consume(dep.port))
        assert texts == [f"hello world {i}" for i in range(5)]


if __name__ == "__main__":
    main()
