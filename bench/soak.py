"""``make soak``: a Flow held at 80% of its measured maximum throughput for a while, watched for leaks.

1. Measures the maximum: ``--clients`` async clients send 10-document requests (float32[512]
   embeddings) back to back through a gateway + 2-replica no-op executor Flow for 10 s.
2. Holds 80% of that rate (``--load``) for ``--minutes`` (default 10): requests are started on a
   fixed schedule (an open loop: a slow reply does not slow the schedule down), at most
   ``--clients`` at once; a request that cannot start on time counts as late.
3. Every ``--every`` seconds it samples, for the client, the gateway and each replica: resident
   memory (VmRSS) and open file descriptors; and for the interval, the requests done, p50 and p99.

It prints the samples, then per process the RSS slope (MB per minute, least squares over the
samples after the first tenth, the warm-up), the fd change, and p99 of the first and last thirds.
A flat run has slopes near 0 (allocator noise is a few MB either way), unchanged fds and p99s
alike. The exit code is 0 unless something fails; figures are reported, never judged.

    .venv/bin/python bench/soak.py                 # 10 minutes
    .venv/bin/python bench/soak.py --minutes 60    # the long run
    .venv/bin/python bench/soak.py --minutes 1     # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import uvloop
from rich.console import Console
from rich.table import Column, Table

from docwire import AsyncClient, Flow

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import workloads
else:
    import workloads

console = Console(width=None if sys.stdout.isatty() else 150)
DOCS_PER_REQUEST = 10
PROBE_SECONDS = 10.0


@dataclass(slots=True)
class Sample:
    """One look at the processes and at the requests of the interval before it."""

    at_s: float
    done: int
    late: int
    p50_ms: float
    p99_ms: float
    rss_mb: dict[str, float]
    fds: dict[str, int]


@dataclass(slots=True)
class Soak:
    """What the held load recorded."""

    rate: float
    samples: list[Sample] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, of the current interval
    done: int = 0
    late: int = 0
    failed: int = 0


def _status(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def _fds(pid: int) -> int:
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


async def _max_rate(port: int, clients: int, docs: list[workloads.EmbedDoc]) -> float:
    """Requests per second with ``clients`` clients sending back to back for PROBE_SECONDS."""
    stop_at = time.perf_counter() + PROBE_SECONDS
    done = 0

    async def one(client: AsyncClient) -> None:
        nonlocal done
        while time.perf_counter() < stop_at:  # bounded by the clock
            async for _ in client.post("/", docs, return_responses=True):
                pass
            done += 1

    async with AsyncClient(port=port) as client:
        start = time.perf_counter()
        await asyncio.gather(*(one(client) for _ in range(clients)))
        return done / (time.perf_counter() - start)


async def _hold(
    port: int,
    soak: Soak,
    clients: int,
    seconds: float,
    every: float,
    pids: dict[str, int],
    docs: list[workloads.EmbedDoc],
) -> None:
    """Starts requests at ``soak.rate`` for ``seconds``, sampling every ``every`` seconds."""
    slots = asyncio.Semaphore(clients)
    pending: set[asyncio.Task[None]] = set()

    async def one(client: AsyncClient) -> None:
        start = time.perf_counter()
        try:
            async for _ in client.post("/", docs, return_responses=True):
                pass
        except Exception:  # noqa: BLE001 - counted, the soak goes on
            soak.failed += 1
        else:
            soak.latencies.append(time.perf_counter() - start)
            soak.done += 1
        finally:
            slots.release()

    async with AsyncClient(port=port) as client:
        began = time.perf_counter()
        next_sample = began + every
        total = int(seconds * soak.rate)
        for i in range(total):  # bounded: the schedule has `total` slots
            due = began + i / soak.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if slots.locked():
                soak.late += 1
            await slots.acquire()
            task = asyncio.create_task(one(client))
            pending.add(task)
            task.add_done_callback(pending.discard)
            if time.perf_counter() >= next_sample:
                _sample(soak, time.perf_counter() - began, pids)
                next_sample += every
        if pending:
            await asyncio.wait(pending)
        _sample(soak, time.perf_counter() - began, pids)


def _sample(soak: Soak, at: float, pids: dict[str, int]) -> None:
    cuts = statistics.quantiles(soak.latencies, n=100, method="inclusive") if len(soak.latencies) > 1 else [0.0] * 99
    soak.samples.append(
        Sample(
            at_s=at,
            done=soak.done,
            late=soak.late,
            p50_ms=cuts[49] * 1e3,
            p99_ms=cuts[98] * 1e3,
            rss_mb={name: _status(pid, "VmRSS:") for name, pid in pids.items()},
            fds={name: _fds(pid) for name, pid in pids.items()},
        )
    )
    soak.latencies = []


def _slope_mb_per_min(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    if len(points) < 2:
        return 0.0
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    return 0.0 if not var else sum((x - mean_x) * (y - mean_y) for x, y in points) / var * 60


def report(soak: Soak, max_rate: float) -> None:
    names = list(soak.samples[0].rss_mb)
    table = Table(
        Column("t (s)", justify="right"),
        Column("done (total)", justify="right"),
        Column("late (total)", justify="right"),
        Column("p50 ms", justify="right"),
        Column("p99 ms", justify="right"),
        *(Column(f"RSS {name} MB", justify="right") for name in names),
        *(Column(f"fds {name}", justify="right") for name in names),
        title=f"soak at {soak.rate:,.0f} req/s ({soak.rate / max_rate:.0%} of {max_rate:,.0f} measured), "
        f"{DOCS_PER_REQUEST} docs each",
    )
    for s in soak.samples:
        table.add_row(
            f"{s.at_s:.0f}",
            f"{s.done:,}",
            f"{s.late:,}",
            f"{s.p50_ms:.2f}",
            f"{s.p99_ms:.2f}",
            *(f"{s.rss_mb[name]:.1f}" for name in names),
            *(str(s.fds[name]) for name in names),
        )
    console.print(table)
    steady = soak.samples[max(1, len(soak.samples) // 10) :]
    third = max(1, len(steady) // 3)
    summary = Table(
        "process", Column("RSS slope (MB/min)", justify="right"), Column("fds first -> last", justify="right")
    )
    for name in names:
        slope = _slope_mb_per_min([(s.at_s, s.rss_mb[name]) for s in steady])
        summary.add_row(name, f"{slope:+.2f}", f"{steady[0].fds[name]} -> {steady[-1].fds[name]}")
    console.print(summary)
    first = statistics.median(s.p99_ms for s in steady[:third])
    last = statistics.median(s.p99_ms for s in steady[-third:])
    console.print(
        f"requests: {soak.done:,} answered, {soak.failed:,} failed, {soak.late:,} started late; "
        f"p99 (median of the interval p99s): first third {first:.2f} ms, last third {last:.2f} ms"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to hold the load")
    parser.add_argument("--load", type=float, default=0.8, help="the share of the measured maximum to hold")
    parser.add_argument("--clients", type=int, default=16, help="concurrent requests at most")
    parser.add_argument("--every", type=float, default=0.0, help="seconds between samples (default: 20 samples)")
    args = parser.parse_args(argv)
    seconds = args.minutes * 60
    every = args.every or max(seconds / 20, 1.0)
    docs = workloads.embed_docs(DOCS_PER_REQUEST)
    with Flow(host="127.0.0.1").add(uses=workloads.NoOp, replicas=2) as flow:
        port = flow.port
        assert port is not None
        first, second, gateway = flow.pids()[:3]
        pids = {"client": os.getpid(), "gateway": gateway, "replica 0": first, "replica 1": second}
        with console.status(f"measuring the maximum for {PROBE_SECONDS:g} s"):
            max_rate: float = uvloop.run(_max_rate(port, args.clients, docs))
        soak = Soak(rate=max_rate * args.load)
        with console.status(f"holding {soak.rate:,.0f} req/s for {args.minutes:g} min"):
            uvloop.run(_hold(port, soak, args.clients, seconds, every, pids, docs))
    report(soak, max_rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
