"""The incumbent's side of ``bench/incumbent.py``: jina 3.34.0 on the same workloads, one repetition.

Run by ``.build/jina-venv/bin/python`` (jina pins pydantic, protobuf and grpcio versions of its own,
so it cannot share docwire's venv); prints one JSON object of figures on its last line. It imports
nothing from docwire: the workloads are restated here in jina's terms, and ``bench/incumbent.py``
states docwire's side the same way.

    .build/jina-venv/bin/python bench/incumbent_jina.py --docs 20000 -n 2000 --warmup 200 --clients 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

# Before jina is imported: no telemetry call, no version check (neither can leave this machine anyway).
os.environ.setdefault("JINA_OPTOUT_TELEMETRY", "1")
os.environ.setdefault("NO_VERSION_CHECK", "1")

import numpy as np
from docarray import BaseDoc, DocList
from docarray.documents import TextDoc
from docarray.typing import NdArray
from jina import Client, Executor, Flow, requests

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import proc_memory
else:
    import proc_memory

DIM = 512
DOCS_PER_REQUEST = 100
TEXT_ENDPOINT = "/text"


class EmbedDoc(BaseDoc):
    embedding: NdArray  # type: ignore[type-arg]


class NoOp(Executor):  # type: ignore[misc]
    """The same no-op executor as docwire's ``bench/workloads.NoOp``: sync methods that return nothing."""

    @requests  # type: ignore[untyped-decorator]
    def noop(self, docs: DocList[EmbedDoc], **kwargs: Any) -> None:
        """The throughput endpoint (default)."""

    @requests(on=TEXT_ENDPOINT)  # type: ignore[untyped-decorator]
    def text(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        """The latency endpoint."""


def _quantiles_ms(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3}


async def _concurrent(port: int, clients: int, per_client: int) -> float:
    """Requests per second of ``clients`` async clients, each sending one small document at a time."""
    doc = TextDoc(text="hello")

    async def one_client() -> None:
        client = Client(host=f"grpc://127.0.0.1:{port}", asyncio=True)
        for _ in range(per_client):
            async for _docs in client.post(TEXT_ENDPOINT, inputs=doc, return_type=DocList[TextDoc]):
                pass

    start = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    return clients * per_client / (time.perf_counter() - start)


def measure(n_docs: int, n: int, warmup: int, clients: int, per_client: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    docs = DocList[EmbedDoc]([EmbedDoc(embedding=row) for row in rng.random((n_docs, DIM), dtype=np.float32)])
    start = time.perf_counter()
    flow = Flow(protocol="grpc", host="127.0.0.1").add(uses=NoOp)
    with flow:
        figures: dict[str, float] = {"startup_s": time.perf_counter() - start}
        figures["rss_mb_at_rest"] = proc_memory.rss_mb(proc_memory.descendants(os.getpid()))
        port = flow.port
        client = Client(host=f"grpc://127.0.0.1:{port}")
        doc = TextDoc(text="hello")
        samples = []
        for i in range(warmup + n):
            begin = time.perf_counter()
            reply = client.post(TEXT_ENDPOINT, inputs=doc, return_type=DocList[TextDoc])
            elapsed = time.perf_counter() - begin
            if len(reply) != 1:
                raise RuntimeError(f"expected one document back, got {len(reply)}")
            if i >= warmup:
                samples.append(elapsed)
        figures.update(_quantiles_ms(samples))
        client.post("/", inputs=docs[:2000], request_size=DOCS_PER_REQUEST, return_type=DocList[EmbedDoc])
        begin = time.perf_counter()
        reply = client.post("/", inputs=docs, request_size=DOCS_PER_REQUEST, return_type=DocList[EmbedDoc])
        figures["stream_docs_per_s"] = n_docs / (time.perf_counter() - begin)
        if len(reply) != n_docs:
            raise RuntimeError(f"expected {n_docs} documents back, got {len(reply)}")
        figures["concurrent_req_per_s"] = asyncio.run(_concurrent(port, clients, per_client))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=250)
    args = parser.parse_args()
    figures = measure(args.docs, args.n, args.warmup, args.clients, args.per_client)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
