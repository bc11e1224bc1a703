"""The launcher's end of the preloaded worker interpreter (``docwire.runtime.preloaded``).

A Flow starts one such interpreter and has it fork every executor replica, so the replicas'
imports are paid once rather than once per process. A forked replica is handled through
``ForkedChild``, which offers what ``ServiceProcess`` uses of a ``subprocess.Popen`` (pid, poll,
wait, terminate, kill, stdin, stdout): its exit code comes from the interpreter that forked it,
over the control socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from docwire.runtime.lifecycle import PARENT_PID_ENV

__all__ = ["ForkedChild", "Preloader"]

#: Seconds a launch request may wait for the interpreter (busy importing at first).
LAUNCH_TIMEOUT = 120.0


class Preloader:
    """One ``python -m docwire.runtime.preloaded`` process and its control socket."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
        # The workers import what we can import: user modules named by `uses` or pickled by reference.
        env["PYTHONPATH"] = os.pathsep.join(p or str(Path.cwd()) for p in sys.path)
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "docwire.runtime.preloaded", "--control-fd", str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env=env,
            )
        self._control = ours
        self._launching = threading.Lock()
        self._started: queue.Queue[int] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._changed = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="docwire-preloader", daemon=True)
        self._reader.start()

    @staticmethod
    def supported() -> bool:
        """Whether this platform forks and passes descriptors as the preloaded interpreter needs (Linux)."""
        return sys.platform.startswith("linux")

    def alive(self) -> bool:
        """Whether the interpreter still takes launch requests."""
        return not self._closed and self._process.poll() is None

    def spawn(self, env: Mapping[str, str], stdin: int, output: int, ready: int) -> int:
        """Forks a worker with ``stdin``, ``output`` (its stdout and stderr) and ``ready`` as its descriptors.

        Returns its pid. Raises ``OSError`` when the interpreter is gone or does not answer.
        """
        message = json.dumps({"env": dict(env)}).encode()
        with self._launching:
            socket.send_fds(self._control, [message], [stdin, output, ready])
            try:
                return self._started.get(timeout=LAUNCH_TIMEOUT)
            except queue.Empty:
                raise OSError(f"the preloaded interpreter did not fork a worker within {LAUNCH_TIMEOUT:g}s") from None

    def _read(self) -> None:
        while True:
            try:
                message = self._control.recv(4096)
            except OSError:
                message = b""
            if not message:
                with self._changed:
                    self._closed = True
                    self._changed.notify_all()
                return
            event = json.loads(message)
            if "started" in event:
                self._started.put(int(event["started"]))
                continue
            with self._changed:
                self._exits[int(event["exited"])] = int(event["code"])
                self._changed.notify_all()

    def exit_code(self, pid: int) -> int | None:
        """A forked worker's exit code once it has exited (None: running)."""
        with self._changed:
            if pid in self._exits:
                return self._exits[pid]
            if self._closed and not Path(f"/proc/{pid}").exists():  # reaped by init once we were gone
                return -signal.SIGKILL
            return None

    def wait_exit(self, pid: int, timeout: float | None) -> int | None:
        """Waits up to ``timeout`` seconds for a forked worker to exit; its exit code, or None."""
        with self._changed:
            self._changed.wait_for(lambda: pid in self._exits or self._closed, timeout)
        return self.exit_code(pid)

    def close(self, timeout: float = 10.0) -> None:
        """Lets the interpreter go (it exits when its control socket closes); kills it after ``timeout`` s."""
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)
        self._control.close()
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=timeout)
        self._reader.join(timeout=2)


class ForkedChild:
    """A worker forked by a ``Preloader``, handled as ``ServiceProcess`` handles a ``subprocess.Popen``."""

    def __init__(self, pid: int, preloader: Preloader, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.pid = pid
        self.stdin: IO[bytes] | None = stdin
        self.stdout: IO[bytes] | None = stdout
        self._preloader = preloader

    def poll(self) -> int | None:
        return self._preloader.exit_code(self.pid)

    def wait(self, timeout: float | None = None) -> int:
        code = self._preloader.wait_exit(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
        return code

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)
