"""The executors of examples/deploy/flow.yml (the image's /app holds this file when deployed)."""

from __future__ import annotations

import os

from docarray import BaseDoc, DocList

from docwire import Executor, requests


class TextDoc(BaseDoc):
    text: str = ""


class Shouter(Executor):
    """Upper-cases each text and says which replica did it."""

    @requests(on="/shout")
    async def shout(self, docs: DocList[TextDoc], **kwargs: object) -> dict[str, object]:
        for doc in docs:
            doc.text = doc.text.upper()
        return {"replica": self.runtime_args.replica_id, "pid": os.getpid()}


class Exclaimer(Executor):
    """Appends ``mark`` (default ``!``), read from the environment variable EXCLAIM_MARK if set."""

    def __init__(self, mark: str = "!", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.mark = os.environ.get("EXCLAIM_MARK", mark)

    @requests(on="/shout")
    async def exclaim(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for doc in docs:
            doc.text += self.mark
