"""A preloaded worker interpreter: ``python -m docwire.runtime.preloaded --control-fd N``, or a fork of the launcher.

Every executor replica imports the same modules (docarray, numpy, pydantic, grpc: about a
second of CPU each), so a Flow of ten replicas on two cores spent most of its start-up
importing. This process imports them once, then forks one child per replica the launcher asks
for (``docwire.orchestration.preloader``); each child is an ordinary worker
(``docwire.runtime.worker.main``) with its spec on stdin, its output on a pipe and its ready pipe,
the three descriptors passed over the control socket.

When the launcher (the process entering the Flow) is single-threaded it forks itself instead of
starting this module as a new interpreter (``serve_in_launcher_fork``): it has imported all of
that already (``docwire.Flow`` does), so the imports cost nothing at all.

It stays single-threaded and creates no gRPC object before forking (gRPC does not survive a
fork once used). It reports each child's exit code on the control socket, and exits when the
launcher closes that socket; its children then stop (they watch their parent, this process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import gc
import json
import logging
import os
import selectors
import signal
import socket
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from docwire.runtime import worker
from docwire.runtime.lifecycle import PARENT_PID_ENV

__all__ = ["MAX_MESSAGE", "main", "open_descriptors", "serve_in_launcher_fork"]

#: The largest control message (a launch request: its environment variables, JSON).
MAX_MESSAGE = 1 << 20


def _run_child(fds: list[int], env: Mapping[str, str]) -> int:
    """In the forked child: takes the passed descriptors as stdin, stdout+stderr and the ready pipe; serves."""
    stdin, output, ready = fds
    os.dup2(stdin, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(stdin)
    os.close(output)
    os.environ.update(env)
    os.environ[PARENT_PID_ENV] = str(os.getppid())  # this interpreter: it exits with the launcher
    if "numpy.random" in sys.modules:  # forked children would share the global generator's state
        sys.modules["numpy.random"].seed()
    try:
        worker.main(["--ready-fd", str(ready)])
    except SystemExit as exc:  # as the interpreter ends on one: its message (``sys.exit("no GPU")``) shown
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        sys.stderr.write(f"{exc.code}\n")
        sys.stderr.flush()
        return 1
    except BaseException:  # noqa: BLE001  (the worker's failure: shown in its output, as a spawned one's would be)
        traceback.print_exc()
        return 1
    return 0


def _fork(inherited: tuple[int, ...], fds: list[int], env: Mapping[str, str]) -> int:
    """Forks a worker on ``fds``; in the child, first closes ``inherited`` (this process' own descriptors)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for fd in inherited:
                os.close(fd)
            code = _run_child(fds, env)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    for fd in fds:
        os.close(fd)
    return pid


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        control.send(json.dumps({"exited": pid, "code": os.waitstatus_to_exitcode(status)}).encode())


def serve(control: socket.socket) -> None:
    """Forks a worker for each launch request until the launcher closes ``control``."""
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup pipe says a child exited
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the launcher decides
    with selectors.PollSelector() as selector:  # poll(2) holds no descriptor a child would inherit
        selector.register(control, selectors.EVENT_READ)
        selector.register(wakeup_read, selectors.EVENT_READ)
        while True:
            for key, _ in selector.select():
                if key.fileobj == wakeup_read:
                    os.read(wakeup_read, 4096)
                    _reap(control)
                    continue
                message, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 3)
                if not message:
                    return  # the launcher is gone
                request = json.loads(message)
                inherited = (control.fileno(), wakeup_read, wakeup_write)
                pid = _fork(inherited, fds, request["env"])
                control.send(json.dumps({"started": pid}).encode())


def open_descriptors() -> dict[int, tuple[int, int]]:
    """The descriptors open in this process (Linux: ``/proc/self/fd``), each with the file it is on (device, inode)."""
    found: dict[int, tuple[int, int]] = {}
    names = [entry.name for entry in Path("/proc/self/fd").iterdir()]  # listed whole: the listing's own is closed
    for name in names:
        with contextlib.suppress(OSError):  # the listing's own
            status = os.fstat(int(name))
            found[int(name)] = (status.st_dev, status.st_ino)
    return found


def serve_in_launcher_fork(control: socket.socket, launcher_descriptors: dict[int, tuple[int, int]]) -> NoReturn:
    """In the child of a fork of the launcher: lets go of the launcher's state, then serves as this module's main.

    The launcher's frames stay on this process' stack (it never returns into them) and its
    objects are never collected, so no finalizer of theirs runs here: its descriptors
    (``launcher_descriptors``, listed just before the fork) are closed once, below, and its
    buffered output was flushed before the fork (``os._exit`` flushes nothing).

    The descriptors that fork handlers opened anew in this child (on other files than the
    launcher's under the same numbers, or under new numbers) are kept: such a library closes
    them by number at the next fork and opens new ones. libuv does so with its signal lock pipe
    once a uvloop loop has run in the launcher: closed here, their numbers would go to a
    worker's pipes, which the worker's fork would then close under it.
    """
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the launcher's handlers
        asyncio.events._set_running_loop(None)  # a launcher inside asyncio.run: the workers run their own loop
        # The launcher's objects, garbage included, are never collected here nor in the workers forked
        # from here: no finalizer of theirs closes a descriptor number this process has reused since.
        gc.freeze()
        # The launcher's sockets and files: a listening port must close when the launcher closes it.
        now = open_descriptors()
        for fd, file in sorted(launcher_descriptors.items()):
            if fd > 2 and fd != control.fileno() and now.get(fd) == file:
                os.close(fd)
        _standard_streams_on_descriptors()
        _forget_log_handlers()
        if faulthandler.is_enabled():  # on a descriptor closed above: a crash would write into another file
            faulthandler.enable(sys.stderr)
        serve(control)
        code = 0
    except BaseException:  # noqa: BLE001  (reported on the launcher's stderr, as the interpreter's would be)
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):  # streams the launcher replaced may be on closed descriptors
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _standard_streams_on_descriptors() -> None:
    """``sys.stdin``, ``sys.stdout`` and ``sys.stderr`` on descriptors 0, 1 and 2 again.

    The launcher may have replaced them (pytest's capture, ``contextlib.redirect_stdout``) with
    objects on descriptors closed here; a worker reads its spec from 0 and writes its log to 2.
    """
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115  (they live as long as the process)
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115


def _forget_log_handlers() -> None:
    """Drops (without closing: their files are closed here) the handlers the launcher's logging had.

    The workers configure their own logging, on stderr, as a new interpreter's would.
    """
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        if isinstance(logger, logging.Logger):
            logger.handlers.clear()


def main(argv: list[str] | None = None) -> None:
    """Entry point: imports what workers import, then serves launch requests on the control socket."""
    parser = argparse.ArgumentParser(prog="python -m docwire.runtime.preloaded")
    parser.add_argument("--control-fd", type=int, required=True, help="the launcher's end of a Unix socket")
    args = parser.parse_args(argv)
    with socket.socket(fileno=args.control_fd) as control:
        serve(control)
    sys.stdout.flush()
    sys.stderr.flush()
    # Nothing to clean up, and tearing down the modules it preloaded takes a good part of a second.
    os._exit(0)


if __name__ == "__main__":
    main()
