"""The client's peak memory while it streams a generator of 1,000,000 small documents through a no-op Flow.

The client runs in a process of its own (this script with ``--client``), which pulls
``TextDoc(text="document <i>")`` from a generator, streams them with ``Client.post``
(``request_size`` 100, prefetch 100) and counts replies in an ``on_done`` callback,
so nothing is accumulated. It reports ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
(the peak resident set) after start-up and after the run. A client that held the
inputs or the replies would need gigabytes; a streaming one stays near its start-up
size. Target: a peak below 250 MB.

    .venv/bin/python bench/client_memory.py                 # about 30 s on 2 cores
    .venv/bin/python bench/client_memory.py --docs 100000   # quicker

``bench/run.py`` can reuse its own Flow (gateway + ``workloads.NoOp``): ``measure(port)``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docwire import Client, Flow

if TYPE_CHECKING:  # mypy reads bench/ as the package `bench`; the scripts run with bench/ on sys.path
    from bench import workloads
else:
    import workloads

N_DOCS = 1_000_000
REQUEST_SIZE = 100
PEAK_RSS_TARGET_MB = 250.0


def _rss_mb() -> float:
    """This process's peak RSS. Not ``getrusage``: Linux carries ``ru_maxrss`` across ``execve``, so a
    child of a large process would report its parent's peak; ``VmHWM`` belongs to the new address space."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def _documents(n: int) -> Iterator[workloads.TextDoc]:
    for i in range(n):
        yield workloads.TextDoc(text=f"document {i}")


def run_client(port: int, n_docs: int, request_size: int) -> dict[str, float]:
    """The client side (in its own process): stream ``n_docs`` documents, report time and peak RSS."""
    answered = 0

    def on_done(response: Any) -> None:
        nonlocal answered
        answered += len(response.docs)

    with Client(host="127.0.0.1", port=port) as client:
        client.post(workloads.TEXT_ENDPOINT, workloads.small_doc())  # connect and warm up
        baseline = _rss_mb()
        start = time.perf_counter()
        client.post(workloads.TEXT_ENDPOINT, _documents(n_docs), request_size=request_size, on_done=on_done)
        elapsed = time.perf_counter() - start
    if answered != n_docs:
        raise RuntimeError(f"expected {n_docs} documents back, got {answered}")
    return {
        "docs": n_docs,
        "seconds": elapsed,
        "docs_per_s": n_docs / elapsed,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": _rss_mb(),
    }


def measure(port: int, n_docs: int = N_DOCS, request_size: int = REQUEST_SIZE) -> dict[str, float]:
    """Runs the client in a fresh process against the Flow on ``port`` and returns its figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--client", str(port), "--docs", str(n_docs)]
    command += ["--request-size", str(request_size)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"the client process failed:\n{run.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    return figures


def report(figures: dict[str, float]) -> None:
    """Prints the figures and the verdict against the target."""
    peak = figures["peak_rss_mb"]
    verdict = "PASS" if peak < PEAK_RSS_TARGET_MB else "MISS"
    print(
        f"client streaming {figures['docs']:,.0f} documents: {figures['docs_per_s']:,.0f} docs/s, "
        f"RSS {figures['baseline_rss_mb']:.0f} MB after start-up, peak {peak:.0f} MB "
        f"({verdict}: target < {PEAK_RSS_TARGET_MB:.0f} MB)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=N_DOCS, help="documents to stream")
    parser.add_argument("--request-size", type=int, default=REQUEST_SIZE, help="documents per request")
    parser.add_argument("--client", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the client process
    args = parser.parse_args(argv)
    if args.client is not None:
        print(json.dumps(run_client(args.client, args.docs, args.request_size)))
        return 0
    with Flow(host="127.0.0.1").add(uses=workloads.NoOp) as flow:
        assert flow.port is not None
        report(measure(flow.port, args.docs, args.request_size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
