"""Executors of the YAML Flow example."""

from __future__ import annotations

from docwire import BaseDoc, DocList, Executor, requests


class TextDoc(BaseDoc):
    text: str = ""


class FooExec(Executor):
    @requests
    def add_text(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for d in docs:
            d.text += "hello, world!"


class BarExec(Executor):
    def __init__(self, suffix: str = "bye", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.suffix = suffix

    @requests
    def add_text(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for d in docs:
            d.text += self.suffix
