"""Memory at rest: the gateway's RSS for each protocol mix, beside the no-op executor replica's.

For each mix a one-executor Flow (``workloads.NoOp``) is entered and the RSS and PSS of its
processes read from ``/proc`` right after it is ready (``proc_memory``: a forked process' RSS
counts the pages it shares with its parent; PSS shares them out). "all" is every process the
Flow started (gateway, replicas, and the interpreter that forked the replicas). ``graphql`` is
an HTTP gateway after one GraphQL query (its stack loads on the first). The incumbent (jina 3.34.0,
``make jina-venv``, through ``incumbent_processes.py``) is measured beside it, rounds interleaved,
for the mixes it serves.

    .venv/bin/python bench/footprint.py            # three runs
    .venv/bin/python bench/footprint.py --no-jina
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx

from docwire import Flow

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import proc_memory, startup, workloads
else:
    import proc_memory
    import startup
    import workloads

#: label -> (the protocols served, whether a GraphQL query is made first).
MIXES: dict[str, tuple[tuple[str, ...], bool]] = {
    "grpc": (("grpc",), False),
    "http": (("http",), False),
    "websocket": (("websocket",), False),
    "graphql": (("http",), True),
    "grpc+http+websocket": (("grpc", "http", "websocket"), False),
}
#: The incumbent's protocol for each mix measured on it: jina 3.34.0's HTTP and WebSocket gateways do not
#: start in its pinned venv (TypeError: '_ConfigMetaclass' object is not iterable, from its pydantic models).
JINA_MIXES = {"grpc": "grpc"}


def docwire_run(protocols: tuple[str, ...], graphql: bool) -> dict[str, float]:
    with Flow(host="127.0.0.1", protocol=list(protocols)).add(uses=workloads.NoOp, name="noop") as flow:
        if graphql:
            reply = httpx.post(f"http://127.0.0.1:{flow.ports['http']}/graphql", json={"query": "{ endpoints }"})
            reply.raise_for_status()
        *executors, gateway = flow.pids()  # Flow.pids(): the replicas, then the gateway
        everything = proc_memory.descendants(os.getpid())
        return {
            "gateway_mb": proc_memory.rss_mb([gateway]),
            "executor_mb": proc_memory.rss_mb(executors) / len(executors),
            "executor_pss_mb": proc_memory.pss_mb(executors) / len(executors),
            "total_mb": proc_memory.rss_mb(everything),
            "total_pss_mb": proc_memory.pss_mb(everything),
        }


def jina_run(protocol: str) -> dict[str, float]:
    return startup.incumbent_side("footprint", f"--protocol={protocol}")


def _median(runs: Sequence[dict[str, float]], key: str) -> str:
    values = [run[key] for run in runs]
    return f"{statistics.median(values):5.1f} (runs {' '.join(f'{v:.1f}' for v in values)})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-jina", action="store_true", help="leave the incumbent out")
    args = parser.parse_args(argv)
    with_jina = not args.no_jina and startup.JINA_PYTHON.exists()
    ours: dict[str, list[dict[str, float]]] = {}
    theirs: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.runs):
        for label, (protocols, graphql) in MIXES.items():
            ours.setdefault(label, []).append(docwire_run(protocols, graphql))
            if with_jina and label in JINA_MIXES:
                theirs.setdefault(label, []).append(jina_run(JINA_MIXES[label]))
    cpus = len(os.sched_getaffinity(0))
    print(f"memory right after start, MB, median of {args.runs} runs ({cpus} CPUs, shared machine)")
    for label in MIXES:
        line = (
            f"  {label:20} gateway RSS {_median(ours[label], 'gateway_mb')}"
            f"  executor RSS {_median(ours[label], 'executor_mb')} PSS {_median(ours[label], 'executor_pss_mb')}"
            f"  all RSS {_median(ours[label], 'total_mb')} PSS {_median(ours[label], 'total_pss_mb')}"
        )
        if label in theirs:
            jina_gateway = [r["gateway_mb"] for r in theirs[label]]
            known = [v for v in jina_gateway if v is not None]
            line += f"  | jina gateway RSS {statistics.median(known):5.1f}" if known else "  | jina gateway —"
            line += f", all RSS {_median(theirs[label], 'total_mb')} PSS {_median(theirs[label], 'total_pss_mb')}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
