"""Dynamic batching: one-document requests from many clients reach the model as one call, split back.

``max_concurrency`` bounds how many calls one replica runs at once; the rest wait their turn.
"""

from __future__ import annotations

import concurrent.futures

from docwire import BaseDoc, Client, Deployment, DocList, Executor, dynamic_batching, requests


class TextDoc(BaseDoc):
    text: str = ""


class Model(Executor):
    @requests(on="/embed")
    @dynamic_batching(preferred_batch_size=8, timeout=10_000)  # run at 8 documents, or 10 s after the first
    def embed(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for doc in docs:
            doc.text = f"{doc.text} (called with {len(docs)})"


def main() -> None:
    with Deployment(uses=Model, max_concurrency=1) as dep:
        client = Client(port=dep.port)

        def ask(i: int) -> str:
            docs = client.post("/embed", TextDoc(text=f"q{i}"), return_type=DocList[TextDoc])
            return str(docs[0].text)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:  # 8 clients at once
            answers = list(pool.map(ask, range(8)))
        print(answers)
        assert answers == [f"q{i} (called with 8)" for i in range(8)]


if __name__ == "__main__":
    main()
