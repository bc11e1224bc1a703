"""Running ``docwire executor serve`` / ``docwire gateway serve`` as subprocesses, as a container would."""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

#: What the commands print once serving: ``gateway serving on grpc 127.0.0.1:8080, http 127.0.0.1:8081``.
SERVING = re.compile(r"serving on (.+)$")


@dataclass
class Served:
    """A started standalone server: its process and protocol -> ``host:port``."""

    process: subprocess.Popen[str]
    addresses: dict[str, str] = field(default_factory=dict)
    #: Its last lines of stderr (drained as they come, so a chatty server never blocks on a full pipe).
    log: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=50))
    _drain: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)

    @property
    def port(self) -> int:
        """The first protocol's port."""
        return int(next(iter(self.addresses.values())).rsplit(":", 1)[1])

    def stop(self) -> int:
        """SIGTERM, then the exit code (killed if it does not stop within 30 s); closes its pipes."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        code = self.process.wait(timeout=10)
        if self._drain is not None:
            self._drain.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return code


def docwire_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment, with our import path (so ``--uses executors.Appender`` imports the tests' executors)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), **(extra or {})}


def start(arguments: Sequence[str], env: Mapping[str, str] | None = None) -> Served:
    """Starts ``docwire <arguments>`` and returns once it prints where it serves.

    Raises:
        RuntimeError: it exited (or closed its output) first; the message holds its stderr.
    """
    command = [sys.executable, "-m", "docwire.cli", *arguments]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=docwire_env(env))
    assert process.stdout is not None
    line = process.stdout.readline()  # the one line the command prints; empty if it exited
    match = SERVING.search(line.strip())
    if match is None:
        process.kill()
        _, stderr = process.communicate(timeout=30)
        process.stdout.close()
        raise RuntimeError(f"docwire {' '.join(arguments)} did not start: {line!r}\n{stderr[-3000:]}")
    addresses = dict(part.split(" ", 1) for part in match.group(1).split(", "))
    return Served(process, addresses)


@contextmanager
def serving(arguments: Sequence[str], env: Mapping[str, str] | None = None) -> Iterator[Served]:
    """``start`` for a ``with`` block: stopped at its end."""
    served = start(arguments, env)
    try:
        yield served
    finally:
        served.stop()
