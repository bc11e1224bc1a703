"""What every docwire server process does around its gRPC server: report readiness, wait, stop."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping

from docwire_contract.allocator import tune_allocator

__all__ = [
    "PARENT_PID_ENV",
    "configure_logging",
    "report_ready",
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
    changing what is collected. Also tunes the C allocator (``docwire_contract.allocator``): both
    server processes (gateway and executor worker) call this once they serve.
    """
    tune_allocator()
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(50_000, older, oldest)


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
