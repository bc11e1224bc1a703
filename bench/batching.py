"""Dynamic batching gain: many clients sending one-document requests to a model with a fixed cost per call.

    python bench/batching.py [--clients 64] [--requests 20] [--reps 3] [--fixed-ms 5] [--per-doc-ms 0.1]

One Deployment (gateway + one replica) serves the same sync method twice: ``/plain`` called once
per request, ``/batched`` with ``uses_dynamic_batching`` (``preferred_batch_size`` = the number of
clients, ``timeout`` 10 ms). A call costs ``fixed-ms`` + ``per-doc-ms`` per document (a sleep, as a
GPU model's launch overhead and per-item time; sleeping leaves the 2 cores to the client, the
gateway and the runtime). ``--clients`` AsyncClients on one event loop each send ``--requests``
one-document requests, one after another; the figure is documents per second over all of them,
for each endpoint, every repetition listed, and the ratio of the medians. The executor counts its
calls, so the mean batch size is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import uvloop
from docarray import BaseDoc, DocList

from docwire import AsyncClient, Client, Deployment, Executor, requests


class TextDoc(BaseDoc):
    text: str = ""


class FixedCostModel(Executor):
    """Sleeps ``fixed_ms`` + ``per_doc_ms`` per document on each call; counts calls and documents."""

    def __init__(self, fixed_ms: float = 5.0, per_doc_ms: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fixed_s, self.per_doc_s = fixed_ms / 1000, per_doc_ms / 1000
        self.calls = self.docs = 0

    @requests(on=["/plain", "/batched"])
    def infer(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        self.calls += 1
        self.docs += len(docs)
        time.sleep(self.fixed_s + self.per_doc_s * len(docs))

    @requests(on="/counts")
    def counts(self, parameters: dict[str, Any], **kwargs: Any) -> dict[str, int]:
        counted = {"calls": self.calls, "docs": self.docs}
        if parameters.get("reset"):
            self.calls = self.docs = 0
        return counted


async def _client(port: int, endpoint: str, n: int, index: int) -> int:
    received = 0
    async with AsyncClient(host="127.0.0.1", port=port) as client:
        for i in range(n):
            async for docs in client.post(endpoint, DocList[TextDoc]([TextDoc(text=f"{index}-{i}")])):
                received += len(docs)
    return received


async def _run(port: int, endpoint: str, clients: int, n: int) -> float:
    start = time.perf_counter()
    received = await asyncio.gather(*(_client(port, endpoint, n, i) for i in range(clients)))
    elapsed = time.perf_counter() - start
    if sum(received) != clients * n:
        raise RuntimeError(f"expected {clients * n} documents back, got {sum(received)}")
    return clients * n / elapsed


def _counts(client: Client) -> dict[str, int]:
    (response,) = client.post("/counts", parameters={"reset": True}, return_responses=True)
    counts: dict[str, int] = response.parameters["__results__"]["model/rep-0"]
    return counts


def main() -> None:
    """Runs the comparison and prints it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=20, help="one-document requests per client")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--fixed-ms", type=float, default=5.0)
    parser.add_argument("--per-doc-ms", type=float, default=0.1)
    args = parser.parse_args()
    deployment = Deployment(
        uses=FixedCostModel,
        name="model",
        host="127.0.0.1",
        uses_with={"fixed_ms": args.fixed_ms, "per_doc_ms": args.per_doc_ms},
        uses_dynamic_batching={"/batched": {"preferred_batch_size": args.clients, "timeout": 10}},
    )
    figures: dict[str, list[float]] = {"/plain": [], "/batched": []}
    batch_sizes: dict[str, list[float]] = {"/plain": [], "/batched": []}
    with deployment:
        port = deployment.port
        assert port is not None
        client = Client(host="127.0.0.1", port=port)
        uvloop.run(_run(port, "/plain", args.clients, 2))  # warm-up: channels, streams
        uvloop.run(_run(port, "/batched", args.clients, 2))
        _counts(client)
        for _ in range(args.reps):
            for endpoint in figures:  # interleaved, so both see the same machine
                figures[endpoint].append(uvloop.run(_run(port, endpoint, args.clients, args.requests)))
                counts = _counts(client)
                batch_sizes[endpoint].append(counts["docs"] / max(counts["calls"], 1))
    print(
        f"dynamic batching: {args.clients} clients x {args.requests} one-document requests, "
        f"call cost {args.fixed_ms} ms + {args.per_doc_ms} ms/doc"
    )
    for endpoint, values in figures.items():
        runs = ", ".join(f"{v:,.0f}" for v in values)
        sizes = ", ".join(f"{s:.1f}" for s in batch_sizes[endpoint])
        print(
            f"  {endpoint:9} docs/s median {statistics.median(values):>8,.0f}  (runs: {runs}; docs per call: {sizes})"
        )
    ratios = ", ".join(f"{b / p:.1f}x" for b, p in zip(figures["/batched"], figures["/plain"], strict=True))
    gain = statistics.median(figures["/batched"]) / statistics.median(figures["/plain"])
    print(f"  batched / plain: {gain:.1f}x (per run: {ratios})")


if __name__ == "__main__":
    main()
