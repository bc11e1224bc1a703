"""What observing costs: the 20,000-document stream row of ``bench/run.py`` with metrics and traces off and on.

Three Flows of the same ``NoOp`` executor run side by side: observing nothing,
``monitoring=True`` (Prometheus metrics on the gateway and the executor), and
``monitoring=True, tracing=True`` (spans sent over OTLP/gRPC to a sink in this process,
which accepts and drops them). Each repetition streams the 20,000 float32[512]
documents (100 per request, ``Client.post``) through each Flow in turn, so the three
are interleaved (each repetition starts with the next one); the figures are documents per
second, and each ratio is against the Flow that observes nothing in the same repetition.
The CPU time the gateway and the executor spend per 100-document request (from /proc, in
10 ms ticks: 50 µs a request) is shown beside it, with the same ratios: on a shared machine it
moves much less with the load than documents per second do.

With tracing on, the requests of the client's stream still go to the executor over one
ProcessStream call: each request's own ``traceparent`` rides in its ``ProcessCall`` (the
call's metadata is sent once, when it opens), so the last row measures the two spans of
each request and their trace context, not another path. The spans are encoded and sent when
a batch goes (512 spans, or every 5 s: ``OTEL_BSP_*``), so part of that falls between runs;
``bench/observer_cost.py`` measures the observers alone, export included, in one process.

Run: ``.venv/bin/python bench/observability.py [--reps 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from collections.abc import Sequence
from concurrent import futures
from typing import TYPE_CHECKING

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from docwire import Client, Flow

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import workloads
    from bench.run import CpuFigure, throughput
else:
    import workloads
    from run import CpuFigure, throughput


class _SpanSink(trace_service_pb2_grpc.TraceServiceServicer):
    """Accepts every export and keeps only the number of spans."""

    def __init__(self) -> None:
        self.spans = 0

    def Export(  # noqa: N802  (the generated servicer's name)
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self.spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        return trace_service_pb2.ExportTraceServiceResponse()


def _total(figure: CpuFigure, run: int) -> float:
    """CPU µs per request the gateway and the executor spent together in one run."""
    return sum(figure.runs[run].values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions")
    args = parser.parse_args(argv)
    docs = workloads.embed_docs()
    sink = _SpanSink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)  # type: ignore[no-untyped-call]
    sink_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    settings = {
        "off": {},
        "monitoring": {"monitoring": True},
        "monitoring + tracing": {"monitoring": True, "tracing": True, "traces_exporter_port": sink_port},
    }
    runs: dict[str, list[float]] = {name: [] for name in settings}
    cpu: dict[str, CpuFigure] = {name: CpuFigure() for name in settings}
    with contextlib.ExitStack() as stack:
        flows = {
            name: stack.enter_context(Flow(host="127.0.0.1", **kwargs).add(uses=workloads.NoOp))  # type: ignore[arg-type]
            for name, kwargs in settings.items()
        }
        clients = {name: stack.enter_context(Client(port=flow.port)) for name, flow in flows.items()}
        for client in clients.values():
            throughput(client, docs[:2000])  # warm-up
        pids = {name: dict(zip(("executor", "gateway"), flow.pids(), strict=True)) for name, flow in flows.items()}
        for rep in range(args.reps):
            names = list(clients)
            for name in names[rep % len(names) :] + names[: rep % len(names)]:  # each goes first once in three
                runs[name].append(throughput(clients[name], docs, pids[name], cpu[name]))
            line = ", ".join(f"{name} {runs[name][-1]:,.0f} ({_total(cpu[name], -1):,.0f} µs)" for name in settings)
            print(f"run {rep + 1}: docs/s {line}", flush=True)
    server.stop(grace=None)
    print(f"\n{workloads.N_DOCS:,} docs x float32[512], {workloads.DOCS_PER_REQUEST}/request, Client.post")
    for name in settings:
        ratios = [run / off for run, off in zip(runs[name], runs["off"], strict=True)]
        figures = " ".join(f"{run:,.0f}" for run in runs[name])
        ratio_list = " ".join(f"{r:.3f}" for r in ratios)
        print(
            f"{name:22} docs/s {figures}  (median {statistics.median(runs[name]):,.0f});"
            f" vs off {ratio_list} (median {statistics.median(ratios):.3f})"
        )
    for name in settings:
        spent = [_total(cpu[name], i) for i in range(args.reps)]
        ratios = [mine / _total(cpu["off"], i) for i, mine in enumerate(spent)]
        print(
            f"{name:22} CPU µs/request (gateway + executor) {' '.join(f'{c:,.0f}' for c in spent)};"
            f" vs off {' '.join(f'{r:.3f}' for r in ratios)} (median {statistics.median(ratios):.3f});"
            f" median executor+gateway {cpu[name].render()}"
        )
    print(f"spans received by the sink: {sink.spans:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
