"""Checking on processes by pid, for tests that must see no orphans."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie awaiting its reaper counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    try:
        state = next((line for line in status.read_text().splitlines() if line.startswith("State:")), "")
    except (FileNotFoundError, ProcessLookupError):  # gone between the two looks, or while being read
        return False
    return "zombie" not in state


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Polls until every pid is gone or ``timeout`` seconds pass; returns those still running."""
    deadline = time.monotonic() + timeout
    alive = [pid for pid in pids if is_running(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if is_running(pid)]
    return alive


def children(parent: int) -> list[int]:
    """The pids of ``parent``'s direct children."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == parent:
            found.append(int(entry.name))
    return found


def descendants(parent: int) -> list[int]:
    """The pids of ``parent``'s children, their children, and so on (replicas are the preloaded
    interpreter's children, ``docwire.runtime.preloaded``)."""
    found: list[int] = []
    pending = [parent]
    while pending:
        below = children(pending.pop())
        found.extend(below)
        pending.extend(below)
    return found


#: The banner's ``URI  grpc://127.0.0.1:12345`` lines (one per protocol served).
BANNER_URI = re.compile(r"URI\s+(grpc|http|websocket)://127\.0\.0\.1:(\d+)")


@contextlib.contextmanager
def serve_yaml(flow_yml: Path) -> Iterator[subprocess.Popen[str]]:
    """``docwire serve flow_yml`` as a subprocess, its stderr piped (read its ports with ``banner_ports``).

    Killed on leaving, if it has not exited by then (a test that stops it checks its exit itself).
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    command = [sys.executable, "-m", "docwire.cli", "serve", str(flow_yml)]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        yield server
    finally:
        server.kill()
        server.wait(timeout=10)
        if server.stderr is not None:
            server.stderr.close()


def banner_ports(server: subprocess.Popen[str], expected: int) -> dict[str, int]:
    """Protocol -> port, read from the ready banner ``docwire serve`` prints on stderr."""
    assert server.stderr is not None
    ports: dict[str, int] = {}
    for _ in range(200):  # bounded: the banner comes within a few dozen lines
        line = server.stderr.readline()
        if not line or len(ports) == expected:
            break
        if match := BANNER_URI.search(line):
            ports[match.group(1)] = int(match.group(2))
    return ports
