"""The incumbent's side of ``bench/startup.py`` and ``bench/footprint.py``: jina 3.34.0's processes.

Run by ``.build/jina-venv/bin/python`` (jina pins packages of its own); imports nothing from
docwire, prints one JSON object on its last line.

    .build/jina-venv/bin/python bench/incumbent_processes.py startup --replicas 10
    .build/jina-venv/bin/python bench/incumbent_processes.py footprint --protocol grpc
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

# Before jina is imported: no telemetry call, no version check (neither can leave this machine anyway).
os.environ.setdefault("JINA_OPTOUT_TELEMETRY", "1")
os.environ.setdefault("NO_VERSION_CHECK", "1")

from jina import Flow

# The no-op executor and the process readings of bench/incumbent.py's jina side.
if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import proc_memory
    from bench.incumbent_jina import NoOp
else:
    import proc_memory
    from incumbent_jina import NoOp


def startup(executors: int, replicas: int) -> dict[str, float]:
    flow = Flow(protocol="grpc", host="127.0.0.1")
    for i in range(executors):
        flow = flow.add(uses=NoOp, name=f"noop{i}", replicas=replicas)
    start = time.perf_counter()
    flow.__enter__()
    entered = time.perf_counter()
    flow.__exit__(None, None, None)
    return {"enter_s": entered - start, "exit_s": time.perf_counter() - entered}


def footprint(protocol: str) -> dict[str, Any]:
    """RSS of the Flow's processes at rest: jina starts the executor, then the gateway (the newest child)."""
    with Flow(protocol=protocol, host="127.0.0.1").add(uses=NoOp, name="noop"):
        pids = proc_memory.children(os.getpid())
        everything = proc_memory.descendants(os.getpid())
        return {
            "total_mb": proc_memory.rss_mb(everything),
            "total_pss_mb": proc_memory.pss_mb(everything),
            "gateway_mb": proc_memory.rss_mb(pids[-1:]),
            "processes": len(everything),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("startup")
    start.add_argument("--executors", type=int, default=1)
    start.add_argument("--replicas", type=int, default=1)
    memory = commands.add_parser("footprint")
    memory.add_argument("--protocol", default="grpc")
    args = parser.parse_args()
    figures = startup(args.executors, args.replicas) if args.command == "startup" else footprint(args.protocol)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
