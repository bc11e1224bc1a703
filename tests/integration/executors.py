"""Executors the integration tests serve (imported by worker processes by module name)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator

import numpy as np
from docarray import BaseDoc, DocList
from docarray.typing import AnyTensor

from docwire import Executor, requests


class TextDoc(BaseDoc):
    text: str = ""


class EmbeddedDoc(BaseDoc):
    text: str = ""
    embedding: AnyTensor | None = None


class StrictDoc(BaseDoc):
    text: str
    count: int


class Appender(Executor):
    """Appends its name (or ``suffix``) to each text; reports its replica and pid."""

    def __init__(self, suffix: str | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.suffix = suffix

    @requests
    async def append(
        self, docs: DocList[TextDoc], parameters: dict[str, object], **kwargs: object
    ) -> dict[str, object]:
        for d in docs:
            d.text += self.suffix or f"[{self.runtime_args.name}]"
        return {"replica": self.runtime_args.replica_id, "pid": os.getpid(), "parameters": parameters}


class DocAdder(Executor):
    """Seed 000's target_executor example: adds a document saying how many it got."""

    @requests
    async def add(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        docs.append(TextDoc(text=f"{self.runtime_args.name} was here and got {len(docs)} document"))


class Embedder(Executor):
    """Text in, 4-dim float32 embeddings out: ``[len(text), 0, 1, 2]``."""

    @requests(on="/embed")
    def embed(self, docs: DocList[TextDoc], **kwargs: object) -> DocList[EmbeddedDoc]:
        return DocList[EmbeddedDoc](
            EmbeddedDoc(text=d.text, embedding=np.array([len(d.text), 0, 1, 2], dtype=np.float32)) for d in docs
        )


class Faulty(Executor):
    """Raises on /fail, exits its process on /die, works on /ok."""

    @requests(on="/fail")
    def fail(self, **kwargs: object) -> None:
        raise NotImplementedError("no time for it")

    @requests(on="/die")
    def die(self, **kwargs: object) -> None:
        os._exit(3)

    @requests(on="/ok")
    def ok(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for d in docs:
            d.text = "ok"


class Strict(Executor):
    """Needs a text and an integer count."""

    @requests(on="/strict")
    def strict(self, docs: DocList[StrictDoc], **kwargs: object) -> None:
        for d in docs:
            d.count += 1


class Streamer(Executor):
    """A generator endpoint: yields ``count`` documents."""

    @requests(on="/hello")
    async def hello(self, doc: TextDoc, parameters: dict[str, object], **kwargs: object) -> AsyncIterator[TextDoc]:
        for i in range(int(parameters.get("count", 3))):  # type: ignore[call-overload]
            await asyncio.sleep(0)
            yield TextDoc(text=f"{doc.text} {i}")


class Sleeper(Executor):
    """Sleeps a random while (seed 000's results_in_order example)."""

    @requests
    def sleep(self, **kwargs: object) -> None:
        time.sleep(random.uniform(0.0, 0.05))


class BrokenInit(Executor):
    """Fails while starting, to test startup errors."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        raise RuntimeError("cannot load the model weights from /nowhere")


class ConcurrencyProbe(Executor):
    """Reports how many requests were in flight when each began; sleeps ``parameters['sleep']`` seconds."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.active = 0

    @requests
    async def probe(self, parameters: dict[str, object], **kwargs: object) -> dict[str, int]:
        self.active += 1
        seen = self.active
        try:
            await asyncio.sleep(float(parameters.get("sleep", 0.02)))  # type: ignore[arg-type]
        finally:
            self.active -= 1
        return {"in_flight": seen}
