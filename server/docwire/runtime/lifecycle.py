"""What every docwire server process does around its gRPC server: report readiness, wait, stop."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

__all__ = [
    "PARENT_PID_ENV",
    "configure_logging",
    "report_ready",
    "tune_allocator",
    "tune_garbage_collector",
    "wait_for_stop_signal",
]


def configure_logging(name: str) -> None:
    """Plain, timestamped log lines on stderr, which the launcher keeps for error reports."""
    logging.basicConfig(
        level=os.environ.get("DOCWIRE_LOG_LEVEL", "WARNING"),
        format=f"%(asctime)s {name}[%(process)d] %(levelname)s %(name)s: %(message)s",
    )


def tune_garbage_collector() -> None:
    """Moves everything built during start-up out of the collector's way, and collects less often.

    A server process decodes and encodes documents all day: thousands of short-lived
    containers per request. Freezing the start-up objects (modules, the executor and
    its model) and raising the young-generation threshold cuts collector time without
    changing what is collected. Also tunes the C allocator (``tune_allocator``): both
    server processes (gateway and executor worker) call this once they serve.
    """
    tune_allocator()
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(50_000, older, oldest)


# mallopt(3) parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
#: Buffers below this size come from the heap, not from their own mmap.
MMAP_THRESHOLD_BYTES: Final = 4 * 1024 * 1024
#: The heap returns memory to the system once this much is free at its top.
TRIM_THRESHOLD_BYTES: Final = 64 * 1024 * 1024
_USER_MALLOC_SETTINGS: Final = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")
#: Set to ``0`` to leave glibc's allocator as it is.
TUNE_MALLOC_ENV: Final = "DOCWIRE_TUNE_MALLOC"


def tune_allocator() -> bool:
    """Keeps request-sized buffers in glibc's heap instead of mapping and unmapping them each time.

    Every request allocates and frees buffers of a few hundred kB (gRPC's message slices,
    serialized requests, document bytes). glibc serves those with their own ``mmap`` and
    gives them back on ``free``, so the next request faults every page in again: 20 to 50
    page faults and 50 to 150 µs of CPU per 214 kB request in each process (measured with
    ``bench/profile_hop.py``). Raising the mmap threshold to 4 MiB and the trim threshold
    to 64 MiB keeps them in the heap; the process may keep up to 64 MiB of freed memory.

    Only on glibc, and only when the user has not configured malloc (``GLIBC_TUNABLES``
    naming ``glibc.malloc``, or the ``MALLOC_*_`` variables) nor set ``DOCWIRE_TUNE_MALLOC=0``.
    Returns whether it applied.
    """
    if not sys.platform.startswith("linux") or os.environ.get(TUNE_MALLOC_ENV, "1") == "0":
        return False
    if "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", "") or any(
        name in os.environ for name in _USER_MALLOC_SETTINGS
    ):
        return False
    try:
        libc = ctypes.CDLL(None)
        if not libc.gnu_get_libc_version:  # glibc's own symbol: not musl or another libc
            return False
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


def report_ready(
    ready_fd: int | None, port: int, ports: Mapping[str, int] | None = None, monitoring_port: int | None = None
) -> None:
    """Tells the launching process (through an inherited pipe) which port we serve on.

    Args:
        ready_fd: the pipe, or None when nobody is waiting.
        port: the main port (the first protocol's).
        ports: every protocol's port, for a server that speaks several.
        monitoring_port: the port its Prometheus metrics are served on, if any.
    """
    if ready_fd is None:
        return
    report: dict[str, object] = {"port": port, "pid": os.getpid()}
    if ports is not None:
        report["ports"] = dict(ports)
    if monitoring_port is not None:
        report["monitoring_port"] = monitoring_port
    with os.fdopen(ready_fd, "w") as pipe:
        pipe.write(json.dumps(report) + "\n")


#: Set by the launcher: when that process is gone, this one stops too (no orphans).
PARENT_PID_ENV = "DOCWIRE_PARENT_PID"


async def _watch_parent(stop: asyncio.Event) -> None:
    expected = os.environ.get(PARENT_PID_ENV)
    if not expected:
        return
    while not stop.is_set():
        if os.getppid() != int(expected):
            logging.getLogger("docwire").warning("launcher %s is gone; stopping", expected)
            stop.set()
            return
        await asyncio.sleep(1.0)


async def wait_for_stop_signal(on_stop: Callable[[], Awaitable[None]]) -> None:
    """Waits for SIGTERM or SIGINT (or the launcher's exit), then runs ``on_stop`` once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watcher = asyncio.create_task(_watch_parent(stop))
    await stop.wait()
    watcher.cancel()
    await on_stop()
