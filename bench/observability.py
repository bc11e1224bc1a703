"""What observing costs: the 20,000-document stream row of ``bench/run.py`` with metrics and traces off and on.

Three Flows of the same ``NoOp`` executor run side by side: observing nothing,
``monitoring=True`` (Prometheus metrics on the gateway and the executor), and
``monitoring=True, tracing=True`` (spans sent over OTLP/gRPC to ``span_sink.py``, a process
that accepts and drops them). Each repetition streams the 20,000 float32[512]
documents (100 per request, ``Client.post``) through each Flow in turn, so the three
are interleaved (each repetition starts with the next one); the figures are documents per
second, and each ratio is against the Flow that observes nothing in the same repetition.
Each repetition starts its Flows anew: a Python process keeps a speed of its own for its life
(where its memory and hash seeds fell), and three Flows that all observe nothing, kept for a
whole invocation, differed by up to 20% of CPU per request; new processes each repetition
turn that into noise the median takes out.
The CPU time each process spends per 100-document request (from /proc: each thread's
nanoseconds on a CPU) is shown beside it, with the same ratios, for the gateway and the
executor (what observing adds to) and for the row's three processes with the client (what
bounds the row's throughput on two cores): on a shared machine CPU moves much less with the
load than documents per second do.

With tracing on, the requests of the client's stream still go to the executor over one
ProcessStream call: each request's own ``traceparent`` rides in its ``ProcessCall`` (the
call's metadata is sent once, when it opens), so the last row measures the two spans of
each request and their trace context, not another path. The spans are encoded and sent when
a batch goes (512 spans, or after ``OTEL_BSP_SCHEDULE_DELAY`` ms, set to 200 here instead of
5,000), and each run's CPU is read ``SETTLE_S`` after its last reply, so a run pays for the
export of its own spans (every Flow waits the same). ``bench/observer_cost.py`` measures the
observers alone, export included, in one process.

Run: ``.venv/bin/python bench/observability.py [--reps 15] [--docs 20000]`` (effects of a few % need many
repetitions: the README figure is ``--reps 30``; more documents per repetition:
longer runs, steadier figures).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from docwire import Client, Flow

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import span_sink, workloads
    from bench.bare import spawn_server
    from bench.run import CpuFigure, throughput
else:
    import span_sink
    import workloads
    from bare import spawn_server
    from run import CpuFigure, throughput

#: Seconds between a run's last reply and its CPU reading: the last spans' export falls in the run.
SETTLE_S = 0.6
#: How often the span processors export (ms): well inside SETTLE_S.
EXPORT_DELAY_MS = "200"


def _total(figure: CpuFigure, run: int, labels: Sequence[str]) -> float:
    """CPU µs per request the processes of ``labels`` spent together in one run."""
    return sum(figure.runs[run][label] for label in labels)


def _measure(client: Client, docs: Sequence[workloads.EmbedDoc], pids: dict[str, int], cpu: CpuFigure) -> float:
    """docs/s of one run; its CPU per request, read SETTLE_S after the last reply, added to ``cpu``."""
    before = workloads.CpuSnapshot.take(pids)
    docs_per_s = throughput(client, docs)
    time.sleep(SETTLE_S)
    _, spent = workloads.CpuSnapshot.take(pids).since(before)
    cpu.add(spent, len(docs) // workloads.DOCS_PER_REQUEST)
    return docs_per_s


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--reps", type=int, default=15, help="interleaved repetitions (each ~5 s; the README figure: 30)"
    )
    parser.add_argument(
        "--docs", type=int, default=workloads.N_DOCS, help="documents per repetition (more: steadier figures)"
    )
    args = parser.parse_args(argv)
    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = EXPORT_DELAY_MS  # the Flows' processes inherit it
    docs = workloads.embed_docs(args.docs)
    runs: dict[str, list[float]] = {}
    cpu: dict[str, CpuFigure] = {}
    with spawn_server(span_sink.__file__) as sink_port:
        settings = {
            "off": {},
            "monitoring": {"monitoring": True},
            "monitoring + tracing": {"monitoring": True, "tracing": True, "traces_exporter_port": sink_port},
        }
        runs = {name: [] for name in settings}
        cpu = {name: CpuFigure() for name in settings}
        for rep in range(args.reps):
            names = list(settings)
            order = names[rep % len(names) :] + names[: rep % len(names)]  # each goes first once in three
            with contextlib.ExitStack() as stack:  # new processes each repetition (see the docstring)
                flows = {
                    name: stack.enter_context(Flow(host="127.0.0.1", **settings[name]).add(uses=workloads.NoOp))  # type: ignore[arg-type]
                    for name in order
                }
                clients = {name: stack.enter_context(Client(port=flow.port)) for name, flow in flows.items()}
                for client in clients.values():
                    throughput(client, docs[:2000])  # warm-up
                for name in order:
                    executor, gateway = flows[name].pids()
                    pids = {"executor": executor, "gateway": gateway, "client": os.getpid()}
                    runs[name].append(_measure(clients[name], docs, pids, cpu[name]))
            line = ", ".join(f"{name} {runs[name][-1]:,.0f}" for name in settings)
            print(f"run {rep + 1}: docs/s {line}", flush=True)
    print(f"\n{args.docs:,} docs x float32[512], {workloads.DOCS_PER_REQUEST}/request, Client.post")
    for name in settings:
        ratios = [run / off for run, off in zip(runs[name], runs["off"], strict=True)]
        figures = " ".join(f"{run:,.0f}" for run in runs[name])
        ratio_list = " ".join(f"{r:.3f}" for r in ratios)
        print(
            f"{name:22} docs/s {figures}  (median {statistics.median(runs[name]):,.0f});"
            f" vs off {ratio_list} (median {statistics.median(ratios):.3f})"
        )
    for processes, labels in (
        ("gateway + executor", ("gateway", "executor")),
        ("with the client", ("gateway", "executor", "client")),
    ):
        print(f"\nCPU µs per request, {processes}:")
        for name in settings:
            spent = [_total(cpu[name], i, labels) for i in range(args.reps)]
            ratios = [mine / _total(cpu["off"], i, labels) for i, mine in enumerate(spent)]
            print(
                f"{name:22} {' '.join(f'{c:,.0f}' for c in spent)};"
                f" vs off {' '.join(f'{r:.3f}' for r in ratios)} (median {statistics.median(ratios):.3f})"
            )
    print("\nmedians per process (total: executor+gateway+client):")
    for name in settings:
        print(f"{name:22} {cpu[name].render()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
