"""What ``bench/run.py`` and ``bench/profile_hop.py`` share: documents, the no-op executor, helpers.

Worker processes import this module by name: ``bench/`` is the script directory of
both scripts, so it is on ``sys.path`` and docwire hands ``sys.path`` to its children
as ``PYTHONPATH``.
"""

# docarray's tensor annotations are runtime generics mypy cannot read.
# mypy: disable-error-code="type-arg, valid-type"

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from docarray import BaseDoc, DocList
from docarray.documents import TextDoc
from docarray.typing import NdArray

from docwire import Executor, requests
from docwire_client.inputs import RequestSpec, build_request

__all__ = [
    "DIM",
    "DOCS_PER_REQUEST",
    "N_DOCS",
    "TEXT_ENDPOINT",
    "THROUGHPUT_ENDPOINT",
    "CpuSnapshot",
    "EmbedDoc",
    "NoOp",
    "TextDoc",
    "bare_children",
    "batch_request",
    "cpu_seconds",
    "embed_docs",
    "quantiles_ms",
    "small_doc",
    "small_request",
]

DIM = 512
N_DOCS = 20_000
N_DOCS_LARGE = 100_000
DOCS_PER_REQUEST = 100
#: The throughput workload goes to the default endpoint (the brief's NoOp), the latency one to /text.
THROUGHPUT_ENDPOINT = "/"
TEXT_ENDPOINT = "/text"


class EmbedDoc(BaseDoc):
    """One document of the throughput workload: a float32[512] embedding."""

    embedding: NdArray


class NoOp(Executor):
    """Does nothing; its endpoints are sync ``def``s, as most user code is.

    Its methods never read ``docs``, so the executor answers with the request's document
    bytes instead of decoding and re-encoding them (see ``docwire.runtime.servicer``). Their
    bodies only move values, so they run on the event loop, as bare's echo does, not on the
    sync-method thread (``docwire.executor.inline_calls``): a method doing real work pays
    that hop too (``profile_hop.py --only costs``: "SyncRunner hop").
    """

    @requests
    def noop(self, docs: DocList[EmbedDoc], **kwargs: Any) -> None:
        """The throughput endpoint (default, so it serves ``/``)."""

    @requests(on=TEXT_ENDPOINT)
    def text(self, docs: DocList[TextDoc], **kwargs: Any) -> None:
        """The latency endpoint: the single small ``TextDoc`` does not fit ``EmbedDoc``."""


def small_doc() -> TextDoc:
    """The document of the sequential latency workload."""
    return TextDoc(text="hello")


def embed_docs(n: int = N_DOCS, dim: int = DIM, seed: int = 0) -> list[EmbedDoc]:
    """``n`` documents with a random float32 embedding each."""
    rng = np.random.default_rng(seed)
    block = rng.random((n, dim), dtype=np.float32)
    return [EmbedDoc(embedding=row) for row in block]


def small_request() -> bytes:
    """The exact DataRequest bytes docwire's client sends for ``small_doc()`` (the request id aside)."""
    return build_request(RequestSpec(TEXT_ENDPOINT), [small_doc()])[1]


def batch_request(docs: Sequence[EmbedDoc]) -> bytes:
    """The exact DataRequest bytes docwire's client sends for one batch of ``docs``."""
    return build_request(RequestSpec(THROUGHPUT_ENDPOINT), list(docs))[1]


def quantiles_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50/p99/mean of samples in seconds, in milliseconds, cut as ``bare.sequential_latency`` cuts."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3, "mean_ms": statistics.fmean(samples) * 1e3}


# ------------------------------------------------------------------ CPU accounting

_TICK = os.sysconf("SC_CLK_TCK")
_PROC = Path("/proc")


def cpu_seconds(pid: int) -> float:
    """CPU seconds a process has used so far (all its threads), from ``/proc``.

    Each live thread's ``schedstat`` (nanoseconds on a CPU) where the kernel keeps it:
    ``stat``'s user + system times count in ticks of 10 ms, coarse for a run of a
    second (a 200-request run spends a few tens of them). ``schedstat`` forgets the threads
    that ended, so a thread that ends between two snapshots takes its time with it: the
    servers measured here keep theirs. Without it, the ticks.
    """
    if pid == os.getpid():
        return time.process_time()
    try:
        return sum(_thread_ns(task) for task in (_PROC / str(pid) / "task").iterdir()) / 1e9
    except (OSError, ValueError):
        stat = (_PROC / str(pid) / "stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; field 3 is fields[0]
        return (int(fields[11]) + int(fields[12])) / _TICK


def _thread_ns(task: Path) -> int:
    """Nanoseconds one thread has spent on a CPU (0 if it ended meanwhile)."""
    try:
        return int((task / "schedstat").read_text().split()[0])
    except (FileNotFoundError, ProcessLookupError):  # the thread ended between listing and reading
        return 0


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    """CPU seconds of some processes at one moment, by label."""

    at: float
    cpu: dict[str, float]

    @classmethod
    def take(cls, pids: dict[str, int]) -> CpuSnapshot:
        return cls(time.perf_counter(), {label: cpu_seconds(pid) for label, pid in pids.items()})

    def since(self, earlier: CpuSnapshot) -> tuple[float, dict[str, float]]:
        """Wall seconds and CPU seconds per label between ``earlier`` and this snapshot."""
        return self.at - earlier.at, {label: self.cpu[label] - earlier.cpu[label] for label in self.cpu}


def _children(parent: int) -> Iterator[tuple[int, str]]:
    """(pid, command line) of the direct children of ``parent``."""
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == parent:
            yield int(entry.name), cmdline


def bare_children() -> dict[str, int]:
    """The pids of ``bare.py``'s relay and echo processes started by this process."""
    found: dict[str, int] = {}
    for pid, cmdline in _children(os.getpid()):
        words = cmdline.split()
        if len(words) >= 3 and words[1].endswith("bare.py") and words[2] in ("relay", "echo"):
            found[words[2]] = pid
    return found
