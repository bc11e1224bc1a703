"""What the observers themselves cost per request: CPU in one process, no network hop, spans exported.

``bench/observability.py`` measures the whole Flow, where a few tens of µs per request are
within the noise of a shared machine. This runs what the gateway and an executor replica
do to observe one request (``GatewayObserver.request`` .. ``finish``, ``ExecutorObserver.observe``
around a no-op), built as the server processes build them (``launch``), for 20,000
100-document requests, and reads this process's CPU time: all threads, so the span
batcher's thread and the OTLP export's gRPC calls count. The spans go over OTLP/gRPC to a
sink in a child process (``span_sink.py``, its CPU not counted); the observers are closed (the last spans
sent) before the clock stops. Settings run in turn, ``--reps`` times, rotating which goes
first.

Run: ``.venv/bin/python bench/observer_cost.py [--reps 3] [--requests 20000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from docwire.observability.launch import start_executor_observer, start_gateway_observer
from docwire.observability.spec import ObservabilitySpec
from docwire_contract.v1 import document_pb2, request_pb2

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import span_sink
    from bench.bare import spawn_server
else:
    import span_sink
    from bare import spawn_server

SETTINGS = {"monitoring": (True, False), "monitoring + tracing": (True, True), "tracing": (False, True)}


def _requests(n: int) -> list[request_pb2.DataRequest]:
    docs = document_pb2.DocList(docs=[document_pb2.Doc() for _ in range(100)]).SerializeToString()
    requests = []
    for i in range(n):
        request = request_pb2.DataRequest()
        request.header.request_id, request.header.exec_endpoint = f"{i:032x}", "/embed"
        request.data.docs_bytes = docs
        requests.append(request)
    return requests


async def _cost(requests: Sequence[request_pb2.DataRequest], port: int, monitoring: bool, tracing: bool) -> float:
    """CPU µs per request of both observers, with ``monitoring`` and ``tracing`` as asked."""

    def spec(service: str) -> ObservabilitySpec:
        return ObservabilitySpec(
            service=service,
            monitoring=monitoring,
            host_monitoring="127.0.0.1",
            tracing=tracing,
            traces_exporter_port=port,
        )

    gateway_started = start_gateway_observer(spec("gateway"))
    executor_started = start_executor_observer(spec("encoder"))
    assert gateway_started is not None
    assert executor_started is not None
    gateway, executor = gateway_started[0], executor_started[0]
    client_metadata = (("user-agent", "grpc-python"),)

    async def serve() -> bytes:
        return b""

    start = time.process_time()
    for request in requests:
        seen = gateway.request(request, client_metadata, 100)
        await executor.observe(request, seen.metadata, serve)
        seen.executor_replied("encoder", request_pb2.Status.CODE_SUCCESS)
        seen.succeeded(b"")
        seen.finish()
    gateway.close()  # the spans still batched are sent
    executor.close()
    return (time.process_time() - start) / len(requests) * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each setting")
    parser.add_argument("--requests", type=int, default=20_000, help="requests per repetition")
    args = parser.parse_args(argv)
    requests = _requests(args.requests)
    # Room for every span of a run (two a request): the SDK's default queue (2,048) drops the rest, logging a
    # warning per span, which this loop (far faster than a Flow) would measure instead of the export.
    os.environ.setdefault("OTEL_BSP_MAX_QUEUE_SIZE", str(2 * args.requests))
    runs: dict[str, list[float]] = {name: [] for name in SETTINGS}
    with spawn_server(span_sink.__file__) as port:
        names = list(SETTINGS)
        for rep in range(args.reps):
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                runs[name].append(asyncio.run(_cost(requests, port, *SETTINGS[name])))
    print(f"CPU µs per request observed at the gateway and one executor ({args.requests:,} requests a run)")
    for name, figures in runs.items():
        print(f"{name:22} {' '.join(f'{f:.1f}' for f in figures)} (median {statistics.median(figures):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
