"""Start-up: seconds to enter (and leave) ``with Flow().add(uses=NoOp):``, beside the incumbent.

Three Flows of no-op executors (``workloads.NoOp``) on 127.0.0.1: one executor, one executor
with 10 replicas, three executors in a chain. Each is entered and left ``--runs`` times; rounds
interleave docwire and jina 3.34.0 (from ``make jina-venv``, through ``incumbent_processes.py``)
when jina's venv is there. Prints each run, the medians, and the ratios to the one-executor Flow.

    .venv/bin/python bench/startup.py            # three runs, about a minute on 2 cores
    .venv/bin/python bench/startup.py --no-jina  # docwire alone

docwire's sources are byte-compiled first, as ``pip install`` compiles an installed package (and
jina's in its venv): with ``PYTHONDONTWRITEBYTECODE`` set, an editable checkout would otherwise
compile every module it imports, in every process, on every start.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from docwire import Flow

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import proc_memory, workloads
else:
    import proc_memory
    import workloads

ROOT = Path(__file__).resolve().parents[1]
JINA_PYTHON = ROOT / ".build" / "jina-venv" / "bin" / "python"
JINA_SIDE = Path(__file__).with_name("incumbent_processes.py")

#: (label, executors, replicas of each).
SHAPES: tuple[tuple[str, int, int], ...] = (("1 executor", 1, 1), ("10 replicas", 1, 10), ("3 executors", 3, 1))


def docwire_run(executors: int, replicas: int) -> dict[str, float]:
    flow = Flow(host="127.0.0.1")
    for i in range(executors):
        flow = flow.add(uses=workloads.NoOp, name=f"noop{i}", replicas=replicas)
    start = time.perf_counter()
    flow.__enter__()
    entered = time.perf_counter()
    flow.__exit__(None, None, None)
    return {"enter_s": entered - start, "exit_s": time.perf_counter() - entered}


def at_rest() -> dict[str, float]:
    """Seconds to enter a one-executor Flow, and the RSS of its processes right after (``--at-rest``).

    ``bench/incumbent.py`` reads these from a new interpreter, as jina's side reads its own: a Flow
    entered in a process holding the benchmark's documents forks its replicas from that process, whose
    pages each replica's RSS would count.
    """
    start = time.perf_counter()
    with Flow(host="127.0.0.1").add(uses=workloads.NoOp):
        started = time.perf_counter() - start
        return {"startup_s": started, "rss_mb_at_rest": proc_memory.rss_mb(proc_memory.descendants(os.getpid()))}


def docwire_at_rest() -> dict[str, float]:
    """``at_rest`` in a new interpreter (this script with ``--at-rest``)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--at-rest"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the start-up run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def jina_run(executors: int, replicas: int) -> dict[str, float]:
    return incumbent_side("startup", f"--executors={executors}", f"--replicas={replicas}")


def incumbent_side(*args: str) -> dict[str, float]:
    """Runs ``incumbent_processes.py`` with ``args`` in jina's venv; its figures (the JSON of its last line)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    command = [str(JINA_PYTHON), str(JINA_SIDE), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the jina side failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def compile_sources() -> None:
    """Byte-compiles docwire's sources, as ``pip install`` compiles an installed package (see above)."""
    for sources in (ROOT / "server", ROOT / "sdk" / "python"):
        compileall.compile_dir(sources, quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-jina", action="store_true", help="leave the incumbent out")
    parser.add_argument("--at-rest", action="store_true", help="one Flow's start-up and RSS, as JSON (see at_rest)")
    args = parser.parse_args(argv)
    if args.at_rest:
        print(json.dumps(at_rest()))
        return 0
    systems = ["docwire"] + ([] if args.no_jina or not JINA_PYTHON.exists() else ["jina"])
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    compile_sources()
    docwire_run(1, 1)  # warm: the first Flow of a process pays the parent's own imports and disk caches
    for _ in range(args.runs):
        for label, executors, replicas in SHAPES:
            for system in systems:
                run = docwire_run if system == "docwire" else jina_run
                runs.setdefault((system, label), []).append(run(executors, replicas))
    cpus = len(os.sched_getaffinity(0))
    print(f"start-up of Flows of no-op executors, {args.runs} runs each ({cpus} CPUs, shared machine)")
    for system in systems:
        base = statistics.median(r["enter_s"] for r in runs[(system, SHAPES[0][0])])
        for label, _, _ in SHAPES:
            these = runs[(system, label)]
            enter = statistics.median(r["enter_s"] for r in these)
            leave = statistics.median(r["exit_s"] for r in these)
            each = " ".join(f"{r['enter_s']:.2f}" for r in these)
            print(
                f"  {system:8} {label:12} enter {enter:5.2f} s (runs {each}), exit {leave:4.2f} s,"
                f" {enter / base:4.2f}x the 1-executor Flow"
            )
    if "jina" in systems:
        for label, _, _ in SHAPES:
            ours = statistics.median(r["enter_s"] for r in runs[("docwire", label)])
            theirs = statistics.median(r["enter_s"] for r in runs[("jina", label)])
            print(f"  docwire / jina, {label}: {ours / theirs:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
