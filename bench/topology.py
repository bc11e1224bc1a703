"""``make bench``: what a graph costs over a chain, and what shards=2 ALL costs over one executor.

    python bench/topology.py [--reps R] [-n SEQUENTIAL] [--docs N]

Flows of the no-op executor of ``bench/run.py`` (``workloads.NoOp``), started side by side:

- **chain**: two executors one after the other (the Flow every existing user has);
- **DAG**: two executors that both need the gateway, their replies merged at the gateway
  (``needs``: the graph path). No-op branches return the documents they got, so the merge finds
  equal document bytes and keeps them as they are (its fast path);
- **chain, docs changed** / **DAG, docs changed**: the same with ``Marker`` executors, which decode
  the documents and set a field (each branch its own), so the DAG's merge reads every document,
  matches them by id and fills the fields (its full path);
- **one**: a single executor;
- **shards=2 ALL**: the same executor in two shards, every request sent to both, replies merged
  (no-op shards: the fast path).

Each is measured the same way: sequential p50 of one small document (``/text``) with the sync
``Client``, and throughput of ``--docs`` float32[512] documents, 100 per request, streamed with
``return_responses=True`` (prefetch 100). The ratios DAG/chain and shards/one are printed, and
the per-request difference in µs (from throughput: 100 documents / docs/s). Every repetition
is listed; the median is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from docarray import BaseDoc, DocList
from docarray.typing import NdArray
from rich.console import Console
from rich.table import Table

from docwire import Client, Executor, Flow, requests

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the script runs with bench/ on sys.path
    from bench import workloads
else:
    import workloads

console = Console(width=None if sys.stdout.isatty() else 150)


class MarkedDoc(BaseDoc):
    """A throughput document with two fields a branch may set."""

    embedding: NdArray | None = None  # type: ignore[type-arg]
    left: str = ""
    right: str = ""


class Marker(Executor):
    """Sets its ``field`` (``left`` or ``right``) on every document: the documents come back changed."""

    def __init__(self, field: str = "left", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.field = field

    @requests
    def mark(self, docs: DocList[MarkedDoc], **kwargs: object) -> None:
        for doc in docs:
            setattr(doc, self.field, self.runtime_args.name)

    @requests(on=workloads.TEXT_ENDPOINT)
    def text(self, docs: DocList[workloads.TextDoc], **kwargs: object) -> None:
        """The latency endpoint."""


def flows() -> dict[str, Flow]:
    """The Flows, not started."""
    return {
        "chain": Flow(host="127.0.0.1").add(uses=workloads.NoOp, name="a").add(uses=workloads.NoOp, name="b"),
        "DAG": Flow(host="127.0.0.1")
        .add(uses=workloads.NoOp, name="a", needs="gateway")
        .add(uses=workloads.NoOp, name="b", needs="gateway"),
        "chain, docs changed": Flow(host="127.0.0.1")
        .add(uses=Marker, name="a", uses_with={"field": "left"})
        .add(uses=Marker, name="b", uses_with={"field": "right"}),
        "DAG, docs changed": Flow(host="127.0.0.1")
        .add(uses=Marker, name="a", uses_with={"field": "left"}, needs="gateway")
        .add(uses=Marker, name="b", uses_with={"field": "right"}, needs="gateway"),
        "one": Flow(host="127.0.0.1").add(uses=workloads.NoOp, name="a"),
        "shards=2 ALL": Flow(host="127.0.0.1").add(uses=workloads.NoOp, name="a", shards=2, polling="ALL"),
    }


def p50_ms(client: Client, n: int) -> float:
    """Median ms of ``n`` sequential one-document requests (after 50 warm-up ones)."""
    doc = workloads.small_doc()
    samples = []
    for i in range(n + 50):
        start = time.perf_counter()
        client.post(workloads.TEXT_ENDPOINT, doc)
        if i >= 50:
            samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def docs_per_s(client: Client, docs: Sequence[workloads.EmbedDoc]) -> float:
    """Documents per second of one streamed post, replies kept as responses (not decoded)."""
    start = time.perf_counter()
    replies = client.post(
        workloads.THROUGHPUT_ENDPOINT, docs, request_size=workloads.DOCS_PER_REQUEST, return_responses=True
    )
    elapsed = time.perf_counter() - start
    if sum(len(reply.docs) for reply in replies) != len(docs):
        raise RuntimeError("documents were lost")
    return len(docs) / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("-n", type=int, default=500, help="sequential requests per repetition")
    parser.add_argument("--docs", type=int, default=workloads.N_DOCS, help="documents streamed per repetition")
    args = parser.parse_args(argv)
    docs = workloads.embed_docs(args.docs)
    latency: dict[str, list[float]] = {}
    throughput: dict[str, list[float]] = {}
    with contextlib.ExitStack() as stack:
        started = {name: stack.enter_context(flow) for name, flow in flows().items()}
        clients = {name: stack.enter_context(Client(port=flow.port)) for name, flow in started.items()}
        for client in clients.values():  # warm-up
            docs_per_s(client, docs[:2000])
        for rep in range(args.reps):
            for name, client in clients.items():  # interleaved: the machine's load falls on all alike
                with console.status(f"repetition {rep + 1}/{args.reps}: {name}"):
                    latency.setdefault(name, []).append(p50_ms(client, args.n))
                    throughput.setdefault(name, []).append(docs_per_s(client, docs))
    table = Table(
        "Flow", "p50 ms", "docs/s", "vs", "p50 ratio", "docs/s ratio", "µs/request more", "runs: p50 | docs/s"
    )
    compared = {"DAG": "chain", "DAG, docs changed": "chain, docs changed", "shards=2 ALL": "one"}
    for name in latency:
        base = compared.get(name)
        p50, thr = statistics.median(latency[name]), statistics.median(throughput[name])
        ratios = ["", "", "", ""]
        if base is not None:
            base_p50, base_thr = statistics.median(latency[base]), statistics.median(throughput[base])
            extra_us = (workloads.DOCS_PER_REQUEST / thr - workloads.DOCS_PER_REQUEST / base_thr) * 1e6
            ratios = [base, f"{p50 / base_p50:.2f}", f"{thr / base_thr:.2f}", f"{extra_us:,.0f}"]
        runs = " ".join(f"{v:.2f}" for v in latency[name]) + " | " + " ".join(f"{v:,.0f}" for v in throughput[name])
        table.add_row(name, f"{p50:.2f}", f"{thr:,.0f}", *ratios, runs)
    console.print(
        f"{args.docs:,} docs x float32[{workloads.DIM}], {workloads.DOCS_PER_REQUEST}/request, "
        f"median of {args.reps}; p50 over {args.n} one-document requests"
    )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
