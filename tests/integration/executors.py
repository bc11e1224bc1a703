"""Executors the integration tests serve (imported by worker processes by module name)."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
from docarray import BaseDoc, DocList
from docarray.typing import AnyTensor
from pydantic import BaseModel, Field

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


class Quitter(Executor):
    """Calls ``sys.exit`` on /exit (from a sync method), raises KeyboardInterrupt on /interrupt (an async one)."""

    @requests(on="/exit")
    def exit(self, **kwargs: object) -> None:
        sys.exit(3)

    @requests(on="/interrupt")
    async def interrupt(self, **kwargs: object) -> None:
        raise KeyboardInterrupt

    @requests(on="/ok")
    def ok(self, docs: DocList[TextDoc], **kwargs: object) -> dict[str, int]:
        return {"pid": os.getpid()}


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


class ExitingInit(Executor):
    """Calls ``sys.exit`` with a message while starting, as a library finding no GPU might."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        sys.exit("no GPU found: this model needs CUDA")


class FailingClose(Executor):
    """Its ``close`` (run when the Flow stops) raises."""

    def close(self) -> None:
        raise RuntimeError("cannot flush the index to disk")


class SlowClose(Executor):
    """Its ``close`` takes ``seconds``, writing when it began and ended to ``<log_dir>/<replica>.close``."""

    def __init__(self, log_dir: str, seconds: float = 1.0, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.log, self.seconds = Path(log_dir) / f"{self.runtime_args.replica_id}.close", seconds

    def close(self) -> None:
        began = time.time()
        time.sleep(self.seconds)
        self.log.write_text(f"{began} {time.time()}")


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


# ---------------------------------------------------------------- the client's tests (issue 3)


class Picky(Executor):
    """Raises on any document whose text starts with "bad"; leaves the others as they are."""

    @requests(on="/picky")
    def picky(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        bad = [d.text for d in docs if d.text.startswith("bad")]
        if bad:
            raise ValueError("bad documents", *bad)


class Recorder(Executor):
    """Counts how often it saw each text (across gateways); ``/seen`` returns the counts."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.seen: dict[str, int] = {}

    @requests
    async def record(self, docs: DocList[TextDoc], parameters: dict[str, object], **kwargs: object) -> None:
        for d in docs:
            self.seen[d.text] = self.seen.get(d.text, 0) + 1
        await asyncio.sleep(float(parameters.get("sleep", 0.0)))  # type: ignore[arg-type]

    @requests(on="/seen")
    async def report(self, **kwargs: object) -> dict[str, object]:
        return {"seen": dict(self.seen)}


class Dawdler(Executor):
    """Sleeps a random while up to ``parameters['sleep']``; longer on the request holding "ordinal-0" when
    ``parameters['first_lags']``, so that later requests overtake it."""

    @requests
    def dawdle(self, docs: DocList[TextDoc], parameters: dict[str, object], **kwargs: object) -> None:
        lag = 0.3 if parameters.get("first_lags") and any(d.text == "ordinal-0" for d in docs) else 0.0
        time.sleep(lag + random.uniform(0.0, float(parameters.get("sleep", 0.02))))  # type: ignore[arg-type]


class Toolbox(Executor):
    """An in-memory index (``/index``, ``/search``, ``/update``, ``/delete``), ``/metadata`` returning the
    caller's metadata, and a default endpoint that keeps documents as they are."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.store: dict[str, str] = {}

    @requests(on="/index")
    def index(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        self.store.update((str(d.id), d.text) for d in docs)

    @requests(on="/search")
    def search(self, docs: DocList[TextDoc], **kwargs: object) -> DocList[TextDoc]:
        found = [TextDoc(id=i, text=t) for q in docs for i, t in sorted(self.store.items()) if q.text in t]
        return DocList[TextDoc](found)

    @requests(on="/update")
    def update(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        self.store.update((str(d.id), d.text) for d in docs if str(d.id) in self.store)

    @requests(on="/delete")
    def delete(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for d in docs:
            self.store.pop(str(d.id), None)

    @requests(on="/metadata")
    async def metadata(self, metadata: dict[str, str], **kwargs: object) -> dict[str, object]:
        return {"metadata": metadata}

    @requests
    async def keep(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        pass


class Countdown(Executor):
    """A generator endpoint: yields ``count`` documents, then raises if ``parameters['fail']``."""

    @requests(on="/countdown")
    async def countdown(self, doc: TextDoc, parameters: dict[str, object], **kwargs: object) -> AsyncIterator[TextDoc]:
        for i in range(int(parameters.get("count", 3))):  # type: ignore[call-overload]
            await asyncio.sleep(0)
            yield TextDoc(text=f"{doc.text} {i}")
        if parameters.get("fail"):
            raise RuntimeError(f"countdown of {doc.text!r} broke")


class Lagger(Executor):
    """Waits as many seconds as its first document's text says, then appends "!" to every text."""

    @requests
    async def lag(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        await asyncio.sleep(float(docs[0].text) if docs else 0.0)
        for d in docs:
            d.text += "!"


class Grower(Executor):
    """``/grow``: each text becomes that many "x"s (replies of a chosen size)."""

    @requests(on="/grow")
    def grow(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for d in docs:
            d.text = "x" * int(d.text)


class Chatter(Executor):
    """A default generator endpoint: whatever the endpoint, yields each word of the document's text."""

    @requests
    async def words(self, doc: TextDoc, **kwargs: object) -> AsyncIterator[TextDoc]:
        for word in doc.text.split():
            await asyncio.sleep(0)
            yield TextDoc(text=word)


class SearchParams(BaseModel):
    """Seed 003's typed parameters: validated, with defaults (and bounds: the fuzzing test sends any value
    the schema allows, and /suggest yields ``limit`` documents)."""

    limit: int = Field(default=2, ge=0, le=1000)
    mode: str = "exact"


class Searcher(Executor):
    """Endpoints declaring ``parameters: SearchParams``: ``/search`` (a batch), ``/suggest`` (a generator)."""

    @requests(on="/search")
    def search(self, docs: DocList[TextDoc], parameters: SearchParams, **kwargs: object) -> None:
        for d in docs:
            d.text = f"{d.text} limit={parameters.limit} mode={parameters.mode}"

    @requests(on="/suggest")
    async def suggest(self, doc: TextDoc, parameters: SearchParams, **kwargs: object) -> AsyncIterator[TextDoc]:
        for i in range(parameters.limit):
            await asyncio.sleep(0)
            yield TextDoc(text=f"{doc.text} {i}")


class IndexSearch(Executor):
    """Seed 002's executor: ``/index`` and ``/search`` (the Flow's endpoints), appending its name to each text."""

    @requests(on=["/index", "/search"])
    async def append(self, docs: DocList[TextDoc], **kwargs: object) -> None:
        for d in docs:
            d.text += f"[{self.runtime_args.name}]"


class Raiser(Executor):
    """Raises on /fail, and only there: an executor's own exception, without Faulty's /die."""

    @requests(on="/fail")
    def fail(self, **kwargs: object) -> None:
        raise NotImplementedError("no time for it")


class Napper(Executor):
    """Naps ``parameters['sleep']`` seconds, reports its replica and pid; replica 0 hangs while
    ``parameters['hang']`` (a sync method: its thread is stuck, as with a model that never returns)."""

    @requests
    def nap(self, docs: DocList[TextDoc], parameters: dict[str, object], **kwargs: object) -> dict[str, object]:
        if parameters.get("hang") and self.runtime_args.replica_id == 0:
            time.sleep(float(parameters["hang"]))  # type: ignore[arg-type]
        time.sleep(float(parameters.get("sleep", 0.0)))  # type: ignore[arg-type]
        return {"replica": self.runtime_args.replica_id, "pid": os.getpid()}


class Lineage(Executor):
    """Reports its process, its parent and ``$DOCWIRE_TEST_MARK`` (to tell forked replicas from spawned ones)."""

    @requests
    async def report(self, docs: DocList[TextDoc], **kwargs: object) -> dict[str, object]:
        return {"pid": os.getpid(), "ppid": os.getppid(), "mark": os.environ.get("DOCWIRE_TEST_MARK")}
