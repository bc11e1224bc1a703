"""Sending data with the client: one document, a list, a DocList, a generator, nothing; batches; the
async client; parameters for every executor or for one (seed 000, "Send data")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

from docwire import AsyncClient, BaseDoc, Client, DocList, Executor, Flow, requests


class TextDoc(BaseDoc):
    text: str = ""


class Counter(Executor):
    """Tells how many documents each request held, and which parameters it got."""

    @requests
    def count(self, docs: DocList[TextDoc], parameters: dict[str, object], **kwargs: object) -> dict[str, object]:
        for d in docs:
            d.text = d.text.upper()
        return {"batch": len(docs), "parameters": parameters}


def doc_gen() -> Iterator[TextDoc]:
    for j in range(10):
        yield TextDoc(text=f"hello {j}")


async def async_inputs() -> AsyncIterator[TextDoc]:
    for j in range(3):
        yield TextDoc(text=f"async {j}")
        await asyncio.sleep(0.01)


async def run_async_client(port: int) -> list[str]:
    texts = []
    async with AsyncClient(port=port) as client:  # or Client(port=port, asyncio=True)
        async for docs in client.post("/", async_inputs(), request_size=1, return_type=DocList[TextDoc]):
            texts.extend(docs.text)
    return texts


def main() -> None:
    flow = Flow().add(uses=Counter, name="exec1").add(uses=Counter, name="exec2")
    with flow:
        client = Client(host=f"grpc://127.0.0.1:{flow.port}")

        one = client.post("/endpoint", TextDoc(text="hello"), return_type=TextDoc)  # one document back as itself
        some = client.post("/endpoint", [TextDoc(text="hello"), TextDoc(text="world")], return_type=DocList[TextDoc])
        empty = client.post("/endpoint", DocList[TextDoc]([TextDoc() for _ in range(10)]))
        generated = client.post("/endpoint", doc_gen, return_type=DocList[TextDoc])  # a generator function
        nothing = client.post("/endpoint")
        print(one.text, some.text, len(empty), generated.text[:2], len(nothing))
        assert (one.text, some.text, len(empty), len(nothing)) == ("HELLO", ["HELLO", "WORLD"], 10, 0)
        assert generated.text == [f"HELLO {j}" for j in range(10)]

        # Batches: 100 documents in requests of 10.
        batches = client.post("/", [TextDoc() for _ in range(100)], request_size=10, return_responses=True)
        assert [r.parameters["__results__"]["exec1/rep-0"]["batch"] for r in batches] == [10] * 10

        # Parameters: for every executor, or only for the one named before "__".
        (reply,) = client.post("/", TextDoc(), parameters={"hello": "world", "exec2__only": 2}, return_responses=True)
        results = reply.parameters["__results__"]
        print(results["exec1/rep-0"]["parameters"], results["exec2/rep-0"]["parameters"])
        assert results["exec1/rep-0"]["parameters"] == {"hello": "world"}
        assert results["exec2/rep-0"]["parameters"] == {"hello": "world", "only": 2}

        assert flow.port is not None
        texts = asyncio.run(run_async_client(flow.port))
        print(texts)
        assert texts == ["ASYNC 0", "ASYNC 1", "ASYNC 2"]
        client.close()


if __name__ == "__main__":
    main()
