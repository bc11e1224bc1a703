"""``make bench-incumbent``: docwire beside the incumbent (jina 3.34.0) and bare grpcio, same workloads, same run.

The incumbent runs from its own pinned venv (``make jina-venv``: jina pins pydantic, protobuf
and grpcio of its own) through ``bench/incumbent_jina.py``, which restates each workload in
jina's terms; docwire runs them here. Repetitions interleave the three systems (docwire,
jina, bare), so machine noise falls on all of them alike. Workloads, each a one-executor Flow
(gateway + a no-op executor) on 127.0.0.1, the sync clients of each side:

1. start-up: seconds to enter the Flow (processes started and ready), and the RSS of its
   processes at rest, summed (docwire: gateway and executor; jina: whatever the Flow started),
   each read in a new interpreter (``startup.docwire_at_rest``; jina's side is one): a Flow
   entered here, where the documents are, would fork its replicas from this process;
2. sequential: one ``TextDoc(text="hello")`` per request, p50 and p99 (bare: the same bytes
   through ``bare.py``'s relay and echo);
3. stream: 20,000 documents with a float32[512] embedding, 100 per request, all replies
   decoded and kept (``Client.post`` on both; bare streams the serialized batches);
4. concurrent: 8 async clients on one event loop, each sending one small document at a time;
   requests per second (bare: no counterpart).

    .venv/bin/python bench/incumbent.py             # three repetitions, about 3 minutes on 2 cores
    .venv/bin/python bench/incumbent.py --reps 1    # quicker, noisier
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import uvloop
from docarray import DocList
from rich.console import Console
from rich.table import Column, Table

from docwire import AsyncClient, Client, Flow

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import bare, startup, workloads
else:
    import bare
    import startup
    import workloads

ROOT = Path(__file__).resolve().parents[1]
JINA_PYTHON = ROOT / ".build" / "jina-venv" / "bin" / "python"
JINA_SIDE = Path(__file__).with_name("incumbent_jina.py")

console = Console(width=None if sys.stdout.isatty() else 150)

#: (key, label, unit, higher is better) of every figure, in the table's order.
FIGURES: tuple[tuple[str, str, str, bool], ...] = (
    ("startup_s", "start-up: enter a 1-executor Flow", "s", False),
    ("rss_mb_at_rest", "memory: RSS of the Flow's processes at rest", "MB", False),
    ("p50_ms", "sequential: p50", "ms", False),
    ("p99_ms", "sequential: p99", "ms", False),
    ("stream_docs_per_s", "stream: 20k docs, Client.post, all kept", "docs/s", True),
    ("concurrent_req_per_s", "concurrent: 8 async clients, 1 doc each", "req/s", True),
)


@dataclass(slots=True)
class Runs:
    """Every repetition's figures of one system, by figure key."""

    by_key: dict[str, list[float]] = field(default_factory=dict)

    def add(self, figures: dict[str, float]) -> None:
        for key, value in figures.items():
            self.by_key.setdefault(key, []).append(value)

    def median(self, key: str) -> float | None:
        values = self.by_key.get(key)
        return statistics.median(values) if values else None


@dataclass(frozen=True, slots=True)
class Settings:
    docs: int
    n: int
    warmup: int
    clients: int
    per_client: int


# --------------------------------------------------------------------------- docwire


async def _concurrent(port: int, clients: int, per_client: int) -> float:
    doc = workloads.small_doc()

    async def one_client() -> None:
        async with AsyncClient(port=port) as client:
            for _ in range(per_client):
                async for _docs in client.post(workloads.TEXT_ENDPOINT, doc):
                    pass

    start = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    return clients * per_client / (time.perf_counter() - start)


def docwire_figures(settings: Settings, docs: list[workloads.EmbedDoc]) -> dict[str, float]:
    """One repetition of every workload on docwire (``bench/incumbent_jina.py`` does the same on jina)."""
    figures = startup.docwire_at_rest()  # from a new interpreter, as jina's side is measured
    with Flow(host="127.0.0.1").add(uses=workloads.NoOp) as flow:
        port = flow.port
        assert port is not None
        with Client(port=port) as client:
            doc = workloads.small_doc()
            samples: list[float] = []
            for i in range(settings.warmup + settings.n):
                begin = time.perf_counter()
                reply = client.post(workloads.TEXT_ENDPOINT, doc)
                elapsed = time.perf_counter() - begin
                if len(reply) != 1:
                    raise RuntimeError(f"expected one document back, got {len(reply)}")
                if i >= settings.warmup:
                    samples.append(elapsed)
            figures |= {key: workloads.quantiles_ms(samples)[key] for key in ("p50_ms", "p99_ms")}
            kept = DocList[workloads.EmbedDoc]
            client.post("/", docs[:2000], request_size=workloads.DOCS_PER_REQUEST, return_type=kept)
            begin = time.perf_counter()
            kept_docs = client.post("/", docs, request_size=workloads.DOCS_PER_REQUEST, return_type=kept)
            figures["stream_docs_per_s"] = len(docs) / (time.perf_counter() - begin)
            if len(kept_docs) != len(docs):
                raise RuntimeError(f"expected {len(docs)} documents back, got {len(kept_docs)}")
        figures["concurrent_req_per_s"] = uvloop.run(_concurrent(port, settings.clients, settings.per_client))
    return figures


# ------------------------------------------------------------------------- the others


def jina_figures(settings: Settings) -> dict[str, float]:
    """One repetition on jina 3.34.0, in its venv; its own output is kept in case it fails."""
    if not JINA_PYTHON.exists():
        raise SystemExit(f"{JINA_PYTHON} is missing: run 'make jina-venv' (part of 'make install')")
    command = [
        str(JINA_PYTHON),
        str(JINA_SIDE),
        f"--docs={settings.docs}",
        f"-n={settings.n}",
        f"--warmup={settings.warmup}",
        f"--clients={settings.clients}",
        f"--per-client={settings.per_client}",
    ]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the jina side failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def bare_figures(settings: Settings, batch: bytes) -> dict[str, float]:
    latency = bare.sequential_latency(settings.n, settings.warmup, workloads.small_request())
    requests = settings.docs // workloads.DOCS_PER_REQUEST
    with bare.bare_system() as target:
        elapsed: float = uvloop.run(bare._throughput(target, batch, requests, 20))
    return {"p50_ms": latency["p50_ms"], "p99_ms": latency["p99_ms"], "stream_docs_per_s": settings.docs / elapsed}


# ------------------------------------------------------------------------- reporting


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if unit in ("docs/s", "req/s") else f"{value:.2f}"


def _ratio(docwire: float | None, other: float | None, higher_is_better: bool) -> str:
    """docwire / other, with ``x`` meaning docwire is that many times better."""
    if docwire is None or other is None or not other or not docwire:
        return "—"
    better = docwire / other if higher_is_better else other / docwire
    return f"{docwire / other:.2f} ({better:.1f}x {'better' if better >= 1 else 'worse'})"


def report(systems: dict[str, Runs], reps: int, settings: Settings, elapsed: float) -> None:
    table = Table(
        "figure",
        Column("docwire", justify="right"),
        Column("jina 3.34.0", justify="right"),
        Column("bare grpcio", justify="right"),
        Column("docwire / jina", justify="right"),
        Column("docwire / bare", justify="right"),
        Column("runs: docwire | jina | bare", style="dim"),
        title=f"docwire, the incumbent and bare grpcio, median of {reps}",
        caption=(
            f"{len(os.sched_getaffinity(0))} CPUs; {settings.n} sequential requests, {settings.docs:,} streamed docs, "
            f"{settings.clients} x {settings.per_client} concurrent requests; {elapsed:.0f} s"
        ),
    )
    docwire, jina, bare_runs = systems["docwire"], systems["jina"], systems["bare"]
    for key, label, unit, higher in FIGURES:
        runs = " | ".join(
            " ".join(_fmt(value, unit) for value in system.by_key.get(key, [])) or "—"
            for system in (docwire, jina, bare_runs)
        )
        table.add_row(
            f"{label} ({unit})",
            _fmt(docwire.median(key), unit),
            _fmt(jina.median(key), unit),
            _fmt(bare_runs.median(key), unit),
            _ratio(docwire.median(key), jina.median(key), higher),
            _ratio(docwire.median(key), bare_runs.median(key), higher),
            runs,
        )
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="repetitions (medians reported)")
    parser.add_argument("--docs", type=int, default=workloads.N_DOCS, help="documents streamed per repetition")
    parser.add_argument("-n", type=int, default=2000, help="sequential requests per repetition")
    parser.add_argument("--warmup", type=int, default=200, help="sequential warm-up requests")
    parser.add_argument("--clients", type=int, default=8, help="concurrent async clients")
    parser.add_argument("--per-client", type=int, default=250, help="requests per concurrent client")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.n < 100 or args.docs < workloads.DOCS_PER_REQUEST:
        parser.error("--reps must be >= 1, -n >= 100 and --docs >= 100")
    settings = Settings(args.docs, args.n, args.warmup, args.clients, args.per_client)
    startup.compile_sources()  # the start-up figure is an installed package's, not a first run's compile
    with console.status(f"building {settings.docs:,} documents"):
        docs = workloads.embed_docs(settings.docs)
        batch = workloads.batch_request(docs[: workloads.DOCS_PER_REQUEST])
    systems = {"docwire": Runs(), "jina": Runs(), "bare": Runs()}
    steps: dict[str, Callable[[], dict[str, float]]] = {
        "docwire": lambda: docwire_figures(settings, docs),
        "jina": lambda: jina_figures(settings),
        "bare": lambda: bare_figures(settings, batch),
    }
    start = time.perf_counter()
    for rep in range(1, args.reps + 1):
        for name, step in steps.items():
            with console.status(f"repetition {rep}/{args.reps}: {name}"):
                systems[name].add(step())
    report(systems, args.reps, settings, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
