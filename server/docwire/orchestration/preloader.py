"""The launcher's end of the preloaded worker interpreter (``docwire.runtime.preloaded``).

A Flow starts one such interpreter and has it fork every executor replica, so the replicas'
imports are paid once rather than once per process. A launcher with a single thread (a script
entering a Flow; not a notebook kernel, nor a process whose gRPC or other libraries run threads)
gets it by forking itself, so even that once costs nothing: it has imported the workers' modules
to build the Flow. Otherwise, or with ``DOCWIRE_FORK_LAUNCHER=0``, it is started as a new
interpreter, ``python -m docwire.runtime.preloaded``. A forked replica is handled through
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
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Protocol

from docwire.runtime.lifecycle import PARENT_PID_ENV

__all__ = ["FORK_LAUNCHER_ENV", "ForkedChild", "Preloader"]

#: Seconds a launch request may wait for the interpreter (busy importing at first).
LAUNCH_TIMEOUT = 120.0

#: Set to ``0`` to always start the preloaded interpreter as a new one, never as a fork of the launcher.
FORK_LAUNCHER_ENV = "DOCWIRE_FORK_LAUNCHER"


class _Interpreter(Protocol):
    """What a ``Preloader`` uses of its interpreter's process: a ``subprocess.Popen``, or a ``_LauncherFork``."""

    @property
    def pid(self) -> int: ...
    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def kill(self) -> None: ...


def launcher_can_fork() -> bool:
    """Whether this process may fork itself into the preloaded interpreter: its threads allow it, unless told not to.

    A fork copies only the calling thread, so a lock or a library's state held by another thread
    (gRPC's pollers, a notebook's I/O threads, an OpenMP pool that has run) would be left
    half-changed in the copy. The one kind of thread allowed besides the main one is OpenBLAS's
    idle pool, which numpy starts on import: OpenBLAS stops and restarts it around a fork.
    """
    if os.environ.get(FORK_LAUNCHER_ENV, "1") == "0" or threading.active_count() != 1:
        return False
    try:
        native = sum(1 for _ in Path("/proc/self/task").iterdir()) - 1
    except OSError:
        return False
    return native == 0 or native <= _openblas_pool_threads()


def _openblas_pool_threads() -> int:
    """How many threads the OpenBLAS libraries loaded in this process keep besides the caller's (0: none loaded)."""
    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]  # noqa: PLC0415  (only when needed)

    pools = [pool for pool in threadpool_info() if pool["internal_api"] == "openblas"]
    return sum(max(int(pool["num_threads"]) - 1, 0) for pool in pools if pool["threading_layer"] == "pthreads")


class _LauncherFork:
    """The launcher's own child: a fork of it serving as the preloaded interpreter (``serve_in_launcher_fork``)."""

    def __init__(self, control: socket.socket) -> None:
        from docwire.runtime import preloaded  # noqa: PLC0415  (imported before the fork: the copy has it)

        sys.stdout.flush()  # or the copy would write the launcher's buffered output once more
        sys.stderr.flush()
        launcher_descriptors = preloaded.open_descriptors()
        self.pid = os.fork()
        if self.pid == 0:
            preloaded.serve_in_launcher_fork(control, launcher_descriptors)
        self._exit: int | None = None

    def poll(self) -> int | None:
        if self._exit is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored by the launcher)
                pid, status = self.pid, 0
            if pid == self.pid:
                self._exit = os.waitstatus_to_exitcode(status)
        return self._exit

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:  # it exits at once when its control socket closes
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"preloaded interpreter {self.pid}", timeout or 0.0)
            time.sleep(0.005)
        return code

    def kill(self) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class Preloader:
    """One preloaded interpreter (a fork of this process or a new one) and its control socket.

    Create it before this process starts threads of its own (``launcher_can_fork``).
    """

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            forked = launcher_can_fork()
            self._process: _Interpreter = _LauncherFork(theirs) if forked else self._new_interpreter(theirs)
        #: Whether the interpreter is a fork of this process (else a new one).
        self.forked = forked
        self._control = ours
        self._launching = threading.Lock()
        self._started: queue.Queue[int] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._changed = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="docwire-preloader", daemon=True)
        self._reader.start()

    @staticmethod
    def _new_interpreter(control: socket.socket) -> subprocess.Popen[bytes]:
        env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
        # The workers import what we can import: user modules named by `uses` or pickled by reference.
        env["PYTHONPATH"] = os.pathsep.join(p or str(Path.cwd()) for p in sys.path)
        return subprocess.Popen(
            [sys.executable, "-m", "docwire.runtime.preloaded", "--control-fd", str(control.fileno())],
            stdin=subprocess.DEVNULL,
            pass_fds=(control.fileno(),),
            env=env,
        )

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
