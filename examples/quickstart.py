"""Two executors chained in a Flow, with replicas, called from a client (seed 004).

Run it: ``make run`` (or ``.venv/bin/python examples/quickstart.py``).
"""

from __future__ import annotations

from docwire import BaseDoc, Client, DocList, Executor, Flow, requests


class TextDoc(BaseDoc):
    text: str = ""


class FooExec(Executor):
    @requests
    async def add_text(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for d in docs:
            d.text += "hello, world!"


class BarExec(Executor):
    @requests
    async def add_text(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for d in docs:
            d.text += "goodbye!"


def main() -> None:
    flow = Flow().add(uses=FooExec, replicas=3).add(uses=BarExec, replicas=2)
    with flow:
        client = Client(port=flow.port)
        docs = client.post("/", DocList[TextDoc]([TextDoc(), TextDoc()]), return_type=DocList[TextDoc])
        print(docs.text)
        assert docs.text == ["hello, world!goodbye!", "hello, world!goodbye!"]


if __name__ == "__main__":
    main()
