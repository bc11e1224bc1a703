"""Restarting executor replicas that exit while their Flow serves (a crash, an OOM kill, a SIGKILL).

A replica that exits is started again on the port it had, so the gateway's channel to that
address reconnects by itself (the gateway keeps no list to update) and the replica rejoins the
round-robin. Meanwhile the gateway skips it: a request that never reached it goes to the next
replica, one it was running fails with ``ExecutorUnavailable`` naming it (never re-run elsewhere,
so nothing runs twice). A replica that keeps failing is restarted after a growing pause (1 s,
doubling, at most 30 s), so a broken executor does not spin the machine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import MutableSequence

from docwire.orchestration.process import ServiceProcess, StartupError

__all__ = ["Supervisor"]

logger = logging.getLogger("docwire.flow")

#: Seconds between looks at the replicas.
CHECK_INTERVAL = 0.25
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 30.0
#: A replica that served this long since its last restart counts as healthy again (its pause resets).
HEALTHY_AFTER = 60.0


class Supervisor:
    """Watches ``replicas`` (replaced in place as they restart) from a thread of its own.

    Args:
        replicas: the executor processes; the supervisor swaps a restarted one into its slot, so a
            caller listing them (``Flow.pids()``) sees the new process.
        timeout_ready: seconds a restarted replica has to become ready.
    """

    def __init__(self, replicas: MutableSequence[ServiceProcess], timeout_ready: float) -> None:
        self._replicas = replicas
        self._timeout_ready = timeout_ready
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pauses: dict[int, tuple[float, float]] = {}  # slot -> (pause, time of the last restart)
        self._thread = threading.Thread(target=self._watch, name="docwire-supervisor", daemon=True)
        #: How many restarts each slot has had (for logs and tests).
        self.restarts: dict[int, int] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops watching (before the Flow stops its processes: their exits are not crashes)."""
        self._stop.set()
        with self._lock:  # a restart under way finishes first
            pass
        if self._thread.is_alive():
            self._thread.join(timeout=self._timeout_ready + 5)

    def _watch(self) -> None:
        waiting: dict[int, float] = {}  # slot -> when its restart is due
        while not self._stop.wait(CHECK_INTERVAL):
            now = time.monotonic()
            for slot, process in enumerate(list(self._replicas)):
                if process.alive():
                    continue
                due = waiting.setdefault(slot, now + self._pause_before(slot, now, process))
                if now >= due:
                    del waiting[slot]
                    with self._lock:
                        if self._stop.is_set():
                            return
                        self._restart(slot, process)

    def _pause_before(self, slot: int, now: float, process: ServiceProcess) -> float:
        """No pause for a replica's first failure (or one after a long healthy run), then 1 s doubling to 30 s."""
        pause, last = self._pauses.get(slot, (0.0, float("-inf")))
        pause = 0.0 if now - last > HEALTHY_AFTER else min(max(pause * 2, FIRST_PAUSE), LONGEST_PAUSE)
        self._pauses[slot] = (pause, now)
        logger.warning(
            "%s (pid %s) exited with code %s; restarting it on port %s%s",
            process.label,
            process.pid,
            process.returncode,
            process.port,
            f" in {pause:g}s" if pause else "",
        )
        return pause

    def _restart(self, slot: int, process: ServiceProcess) -> None:
        replacement = process.restarted()
        try:
            replacement.start()
            replacement.wait_ready(self._timeout_ready)
        except StartupError as exc:
            logger.error("%s could not be restarted: %s", process.label, exc)
            replacement.stop()
            return
        finally:
            process.stop()  # reaps the exited child and closes its pipes
        self._replicas[slot] = replacement
        self.restarts[slot] = self.restarts.get(slot, 0) + 1
        logger.warning("%s is back (pid %s, port %s)", replacement.label, replacement.pid, replacement.port)
