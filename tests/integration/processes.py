"""Checking on processes by pid, for tests that must see no orphans."""

from __future__ import annotations

import os
import time
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
    except FileNotFoundError:
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
