"""Memory of a group of processes from ``/proc``: RSS and PSS, and the processes a launcher started.

Standard library only: docwire's benchmarks and the incumbent's side (``incumbent_jina.py``,
``incumbent_processes.py``, run in jina's own venv) read memory the same way.

RSS counts every page a process maps, so processes forked from one parent each count the pages
they still share with it (docwire's replicas and their preloaded parent; jina's executors,
forked from the launcher): a sum of RSS counts those pages once per process. PSS divides each
shared page among the processes sharing it, so a sum of PSS is what the group costs the machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["children", "descendants", "pss_mb", "rss_mb"]


def _field_kb(path: Path, key: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in {path}")


def rss_mb(pids: Iterable[int]) -> float:
    """The sum of the processes' resident set sizes, MB."""
    return sum(_field_kb(Path(f"/proc/{pid}/status"), "VmRSS:") for pid in pids) / 1024


def pss_mb(pids: Iterable[int]) -> float:
    """The sum of the processes' proportional set sizes (shared pages divided among their sharers), MB."""
    return sum(_field_kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss:") for pid in pids) / 1024


def children(parent: int) -> list[int]:
    """The processes whose parent is ``parent``, in pid order."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == parent:
                found.append(int(entry.name))
    return sorted(found)


def descendants(parent: int) -> list[int]:
    """Every process ``parent`` started, and theirs, in pid order."""
    found: list[int] = []
    frontier = [parent]
    while frontier:
        below = [child for pid in frontier for child in children(pid)]
        found += below
        frontier = below
    return sorted(found)
