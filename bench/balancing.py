"""``make bench`` row: what balancing replicas over DNS costs the gateway (``docwire.gateway.balancing``).

Two NoOp executor replicas (``docwire executor serve``, on 127.0.0.2 and 127.0.0.3, one port) behind one
``docwire gateway serve``, told about them in two ways:

- listed: ``--executor noop=127.0.0.2:P,127.0.0.3:P`` (the gateway's own round-robin; a client stream's
  requests go over one ProcessStream per replica from the second on), as a Flow launches them;
- dns: ``--executor noop=dns://127.0.0.1:D/noop.bench:P``, a DNS server on loopback answering with both
  (a Kubernetes headless Service): gRPC's round_robin picks a replica per call, so every request is a
  unary call (a stream would pin one replica).

Each streams 20,000 float32[512] documents, 100 per request (``return_responses=True``), ``--reps``
times interleaved; the median docs/s and the dns/listed ratio are printed, every repetition listed.

    .venv/bin/python bench/balancing.py --reps 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnslib import QTYPE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from rich.console import Console

from docwire import Client

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import workloads
else:
    import workloads

NAME = "noop.bench"
REPLICAS = ("127.0.0.2", "127.0.0.3")


class Answers(BaseResolver):  # type: ignore[misc]
    """Answers ``NAME`` with every replica (TTL 0), as a headless Service does."""

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        if request.q.qtype == QTYPE.A and str(request.q.qname).rstrip(".") == NAME:
            for address in REPLICAS:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=0))
        return reply


@contextmanager
def _serving(arguments: Sequence[str]) -> Iterator[str]:
    """``docwire <arguments>`` until the block ends; yields the ``host:port`` it prints."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    command = [sys.executable, "-m", "docwire.cli", *arguments]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if "serving on grpc " not in line:
            raise RuntimeError(f"docwire {' '.join(arguments)} did not start: {line!r}")
        yield line.rsplit("serving on grpc ", 1)[1].split(",")[0]
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def _replica(host: str, port: int, replica_id: int) -> list[str]:
    return [
        "executor", "serve", "--uses", "workloads.NoOp", "--name", "noop",
        "--host", host, "--port", str(port), "--replica-id", str(replica_id),
    ]  # fmt: skip


def _docs_per_s(address: str, docs: list[workloads.EmbedDoc]) -> float:
    with Client(host=f"grpc://{address}") as client:
        client.post("/", docs[:1000], request_size=workloads.DOCS_PER_REQUEST, return_responses=True)  # warm up
        started = time.perf_counter()
        replies = client.post("/", docs, request_size=workloads.DOCS_PER_REQUEST, return_responses=True)
        elapsed = time.perf_counter() - started
    assert len(replies) == len(docs) // workloads.DOCS_PER_REQUEST
    return len(docs) / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    docs = workloads.embed_docs(workloads.N_DOCS)
    runs: dict[str, list[float]] = {"listed": [], "dns": []}
    with ExitStack() as stack:
        dns = DNSServer(
            Answers(),
            address="127.0.0.1",
            port=0,
            logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"),
        )
        dns.start_thread()
        stack.callback(dns.stop)
        dns_port = dns.server.server_address[1]
        first = stack.enter_context(_serving(_replica(REPLICAS[0], 0, 0)))
        port = int(first.rsplit(":", 1)[1])
        stack.enter_context(_serving(_replica(REPLICAS[1], port, 1)))
        targets = {
            "listed": ",".join(f"{host}:{port}" for host in REPLICAS),
            "dns": f"dns://127.0.0.1:{dns_port}/{NAME}:{port}",
        }
        gateways = {
            name: stack.enter_context(
                _serving(["gateway", "serve", "--host", "127.0.0.1", "--executor", f"noop={target}"])
            )
            for name, target in targets.items()
        }
        for _ in range(args.reps):
            for name, address in gateways.items():
                runs[name].append(_docs_per_s(address, docs))
    console = Console()
    for name, values in runs.items():
        listed = ", ".join(f"{v:,.0f}" for v in values)
        console.print(f"{name:>6}: median {statistics.median(values):,.0f} docs/s  (runs: {listed})", highlight=False)
    ratio = statistics.median(runs["dns"]) / statistics.median(runs["listed"])
    console.print(
        f"dns / listed: {ratio:.2f}  (20,000 float32[512] docs, 100 per request, 2 replicas)", highlight=False
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
