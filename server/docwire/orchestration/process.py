"""Launching one docwire server process (an executor replica or a gateway) and stopping it.

The child gets its spec pickled on stdin and reports its bound port on a
dedicated pipe, so ports are chosen by the OS with no race. Its output is
forwarded to our stderr and the last lines are kept for error reports.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Protocol

from docwire.orchestration import pickling
from docwire.orchestration.preloader import ForkedChild, Preloader
from docwire.runtime.lifecycle import PARENT_PID_ENV

__all__ = ["STOP_TIMEOUT_S", "ServiceProcess", "StartupError"]

logger = logging.getLogger("docwire.flow")

#: How long a server process has to stop once asked (SIGTERM) before it is killed.
STOP_TIMEOUT_S = 10.0


class StartupError(RuntimeError):
    """A server process did not become ready; the message names it and shows its last log lines."""


class ChildProcess(Protocol):
    """What a ``ServiceProcess`` uses of its child: a ``subprocess.Popen``, or a ``ForkedChild``."""

    @property
    def pid(self) -> int: ...
    @property
    def stdin(self) -> IO[bytes] | None: ...
    @property
    def stdout(self) -> IO[bytes] | None: ...
    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


class ServiceProcess:
    """One child process running ``python -m <module>`` with a pickled spec.

    Args:
        label: how errors and logs name it, for example ``"executor 'encoder' rep-0"``.
        module: the module to run, for example ``"docwire.runtime.worker"``.
        spec: the object pickled to the child's stdin.
        forward_output: copy the child's output to our stderr as it comes.
        env: environment variables set in the child, over ours.
        preloader: fork the child from this preloaded worker interpreter (``module`` must be the
            worker's) instead of starting a new interpreter.
    """

    def __init__(
        self,
        label: str,
        module: str,
        spec: object,
        *,
        forward_output: bool = True,
        env: Mapping[str, str] | None = None,
        preloader: Preloader | None = None,
    ) -> None:
        self.label = label
        self._preloader = preloader
        self._env = dict(env or {})
        self._module = module
        self._spec = spec
        self._forward = forward_output
        self._lines: collections.deque[str] = collections.deque(maxlen=40)
        self._popen: ChildProcess | None = None
        self._terminated = False  # asked to stop (SIGTERM sent)
        self._ready_read: int | None = None
        self._reader: threading.Thread | None = None
        self.port: int | None = None
        #: Protocol -> port, as the child reported them (``{"grpc": port}`` for a one-protocol server).
        self.ports: dict[str, int] = {}
        #: The port the child serves its Prometheus metrics on, as it reported it (None: monitoring is off).
        self.monitoring_port: int | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id once started."""
        return None if self._popen is None else self._popen.pid

    def start(self, *, spec_later: bool = False) -> None:
        """Starts the child; returns at once (see ``wait_ready``).

        With ``spec_later`` the child starts now, imports its modules while the caller does
        something else, and waits on its stdin for the spec ``send_spec`` gives it.
        """
        ready_read, ready_write = os.pipe()
        env = {**os.environ, **self._env}
        # The child imports what we can import: user modules named by `uses` or pickled by reference.
        env["PYTHONPATH"] = os.pathsep.join(p or str(Path.cwd()) for p in sys.path)
        env[PARENT_PID_ENV] = str(os.getpid())
        try:
            if self._preloader is not None and self._preloader.alive():
                self._popen = self._fork(self._preloader, ready_write)
            else:
                self._popen = subprocess.Popen(
                    [sys.executable, "-m", self._module, "--ready-fd", str(ready_write)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    pass_fds=(ready_write,),
                    env=env,
                )
        except BaseException:
            os.close(ready_read)
            raise
        finally:
            os.close(ready_write)
        self._ready_read = ready_read
        assert self._popen.stdin is not None
        assert self._popen.stdout is not None
        self._reader = threading.Thread(target=self._pump, args=(self._popen.stdout,), daemon=True)
        self._reader.start()
        if not spec_later:
            self.send_spec(self._spec)

    def _fork(self, preloader: Preloader, ready_write: int) -> ForkedChild:
        stdin_read, stdin_write = os.pipe()
        output_read, output_write = os.pipe()
        try:
            pid = preloader.spawn(self._env, stdin_read, output_write, ready_write)
        except OSError as exc:
            os.close(stdin_write)
            os.close(output_read)
            raise StartupError(f"{self.label} could not be forked: {exc}") from exc
        finally:
            os.close(stdin_read)
            os.close(output_write)
        return ForkedChild(pid, preloader, os.fdopen(stdin_write, "wb"), os.fdopen(output_read, "rb"))

    def send_spec(self, spec: object) -> None:
        """Gives the started child its spec (once: ``start`` does it unless told ``spec_later``)."""
        assert self._popen is not None
        assert self._popen.stdin is not None
        self._spec = spec
        # A child that died at once closes the pipe; wait_ready reports it with its output.
        with self._popen.stdin as stdin, contextlib.suppress(BrokenPipeError):
            stdin.write(pickling.dumps(spec))

    def _pump(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace")
            self._lines.append(line)
            if self._forward:
                sys.stderr.write(line)

    def wait_ready(self, timeout: float) -> int:
        """Waits until the child reports its port.

        Raises:
            StartupError: the child exited or did not report within ``timeout`` seconds.
        """
        assert self._popen is not None
        assert self._ready_read is not None
        deadline = time.monotonic() + timeout
        received = b""
        while b"\n" not in received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise StartupError(f"{self.label} was not ready after {timeout:g}s{self._log_tail()}")
            readable, _, _ = select.select([self._ready_read], [], [], min(remaining, 0.5))
            if not readable:
                continue
            chunk = os.read(self._ready_read, 4096)
            if not chunk:  # the child closed the pipe without reporting: it failed
                code = self._popen.wait(timeout=10)
                self.stop()
                raise StartupError(f"{self.label} exited with code {code} before it was ready{self._log_tail()}")
            received += chunk
        os.close(self._ready_read)
        self._ready_read = None
        report = json.loads(received.decode())
        self.port = int(report["port"])
        self.ports = {str(k): int(v) for k, v in (report.get("ports") or {"grpc": self.port}).items()}
        self.monitoring_port = None if report.get("monitoring_port") is None else int(report["monitoring_port"])
        return self.port

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=2)

    def _log_tail(self) -> str:
        lines = "".join(self._lines).rstrip()
        return f"; its last log lines:\n{lines}" if lines else " (it wrote no output)"

    def alive(self) -> bool:
        """Whether the child is still running."""
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """The child's exit code once it has exited (negative: the signal that ended it)."""
        return None if self._popen is None else self._popen.poll()

    def restarted(self) -> ServiceProcess:
        """A new (unstarted) process for the same spec on the port this one had, so clients reconnect to it.

        Raises:
            RuntimeError: this process never reported a port, or its spec has no ``port`` to keep.
        """
        if self.port is None or not dataclasses.is_dataclass(self._spec) or isinstance(self._spec, type):
            raise RuntimeError(f"{self.label} cannot be restarted on its port: it never reported one")
        spec = dataclasses.replace(self._spec, port=self.port)
        return ServiceProcess(
            self.label, self._module, spec, forward_output=self._forward, env=self._env, preloader=self._preloader
        )

    def terminate(self) -> None:
        """Asks the child to stop (SIGTERM) without waiting: ``stop`` waits (a Flow asks all its executors first,
        so their ``close`` run at the same time)."""
        if self._popen is not None and not self._terminated and self._popen.poll() is None:
            self._popen.terminate()
            self._terminated = True

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Asks the child to stop (SIGTERM) unless ``terminate`` did, then kills it if it has not exited within
        ``timeout`` seconds (warning that it did not stop)."""
        if self._popen is None:
            return
        if self._popen.poll() is None:
            self.terminate()
            try:
                self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s did not stop within %gs of being asked to (its close() or a request still running): killed",
                    self.label,
                    timeout,
                )
                self._popen.kill()
                self._popen.wait(timeout=STOP_TIMEOUT_S)
        if self._ready_read is not None:
            os.close(self._ready_read)
            self._ready_read = None
        if self._popen.stdin is not None:  # a child stopped before it got its spec
            self._popen.stdin.close()
        self._join_reader()
        if self._popen.stdout is not None:
            self._popen.stdout.close()
