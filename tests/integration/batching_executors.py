"""Executors for the dynamic batching and concurrency tests: each records what its methods saw."""

from __future__ import annotations

import asyncio
from pathlib import Path

from docarray import BaseDoc, DocList

from docwire import Executor, dynamic_batching, requests

#: How long a held method waits for its release file at most (a bound, not a timing under test).
HOLD_LIMIT_S = 30.0


class TextDoc(BaseDoc):
    text: str = ""


class CountedDoc(BaseDoc):
    text: str
    count: int


class BatchRecorder(Executor):
    """``/batch`` groups up to 8 documents (waiting up to a minute: a batch runs when full); ``/quick``
    groups 100 or whatever 50 ms brings. Both record each call's texts and return new documents
    ``<text>|<tag parameter>|<batch size>``; a text starting with "boom" makes the call raise.
    ``/batches`` returns the calls seen."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.batches: list[list[str]] = []

    @requests(on="/batch")
    @dynamic_batching(preferred_batch_size=8, timeout=60_000)
    async def batch(self, docs: DocList[TextDoc], parameters: dict[str, str], **kwargs: object) -> DocList[TextDoc]:
        return self._answer(docs, parameters)

    @dynamic_batching(preferred_batch_size=100, timeout=50)
    @requests(on="/quick")
    def quick(self, docs: DocList[TextDoc], parameters: dict[str, str], **kwargs: object) -> DocList[TextDoc]:
        return self._answer(docs, parameters)

    @requests(on="/configured")
    def configured(self, docs: DocList[TextDoc], parameters: dict[str, str], **kwargs: object) -> DocList[TextDoc]:
        """Batched only through ``uses_dynamic_batching``."""
        return self._answer(docs, parameters)

    @requests(on="/shrink")
    @dynamic_batching(preferred_batch_size=2, timeout=60_000)
    def shrink(self, docs: DocList[TextDoc], **kwargs: object) -> DocList[TextDoc]:
        """Returns one document fewer than it was given: the batch cannot be split back."""
        return docs[1:]

    @requests(on="/counted")
    @dynamic_batching(preferred_batch_size=4, timeout=60_000)
    def counted(self, docs: DocList[CountedDoc], **kwargs: object) -> None:
        """Sets each count to the batch's size, in place (returns None)."""
        self.batches.append([d.text for d in docs])
        for d in docs:
            d.count = len(docs)

    @requests(on="/batches")
    def report(self, **kwargs: object) -> dict[str, object]:
        return {"batches": self.batches}

    def _answer(self, docs: DocList[TextDoc], parameters: dict[str, str]) -> DocList[TextDoc]:
        texts = [d.text for d in docs]
        self.batches.append(texts)
        if any(t.startswith("boom") for t in texts):
            raise ValueError("boom in the batch", len(texts))
        tag = parameters.get("tag", "")
        return DocList[TextDoc]([TextDoc(text=f"{t}|{tag}|{len(texts)}") for t in texts])


class Gate(Executor):
    """``/hold`` records its start (and creates the file ``parameters['started']``), then waits
    (asynchronously) until the file ``parameters['release']`` exists; ``/work`` (async) records its
    documents' texts at start and end, awaiting ``parameters['pause']`` seconds between (default 0);
    ``/log`` returns the records and the most calls seen in flight at once."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.log: list[str] = []
        self.active = 0
        self.most_active = 0

    @requests(on="/hold")
    async def hold(self, parameters: dict[str, str], **kwargs: object) -> None:
        self.log.append("hold")
        self._enter()
        await asyncio.to_thread(Path(parameters["started"]).touch)
        try:
            release = Path(parameters["release"])
            for _ in range(int(HOLD_LIMIT_S / 0.01)):
                if await asyncio.to_thread(release.exists):
                    return
                await asyncio.sleep(0.01)
            raise TimeoutError(f"{release} did not appear")
        finally:
            self.active -= 1

    @requests(on="/work")
    async def work(self, docs: DocList[TextDoc], parameters: dict[str, float], **kwargs: object) -> None:
        self._enter()
        try:
            self.log.extend(f"start {d.text}" for d in docs)
            await asyncio.sleep(float(parameters.get("pause", 0.0)))
            self.log.extend(f"end {d.text}" for d in docs)
        finally:
            self.active -= 1

    @requests(on="/log")
    def report(self, **kwargs: object) -> dict[str, object]:
        return {"log": list(self.log), "most_active": self.most_active}

    def _enter(self) -> None:
        self.active += 1
        self.most_active = max(self.most_active, self.active)
