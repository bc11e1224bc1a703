"""Running the pinned Go tools (grpcurl, grpc-health-probe) against a live Flow.

The tools are the ones ``make tools`` installs into ``.build/bin``; set
``DOCWIRE_TOOLS_BIN`` to a directory holding both to use other builds. A missing
tool fails the test (never skips it), naming the command that installs it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

__all__ = [
    "EXECUTOR_SERVICE",
    "GATEWAY_SERVICE",
    "GRPCURL",
    "HEALTH_PROBE",
    "HEALTH_SERVICE",
    "REFLECTION_SERVICE",
    "REPLICAS",
    "WORKERS",
    "Call",
    "Message",
    "ToolRun",
    "call",
    "describe",
    "field_numbers",
    "grpcurl_text",
    "probe",
    "run_tool",
    "unused_port",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Overrides the directory the tools are taken from (default: the Makefile's ``.build/bin``).
TOOLS_DIR_ENV = "DOCWIRE_TOOLS_BIN"
GRPCURL = "grpcurl"
HEALTH_PROBE = "grpc-health-probe"
#: Seconds one tool run may take before the test fails (grpcurl's own -max-time is a bit less).
TOOL_TIMEOUT = 30.0

GATEWAY_SERVICE = "docwire.v1.GatewayService"
EXECUTOR_SERVICE = "docwire.v1.ExecutorService"
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"

#: The Flow under test, in chain order: executor name to replica count (conftest.py builds it).
REPLICAS: dict[str, int] = {"first": 2, "embedder": 1, "streamer": 1}
#: Every executor replica, named ``<executor>/rep-<i>`` like the servers' own logs and results.
WORKERS: tuple[str, ...] = tuple(f"{name}/rep-{i}" for name, count in REPLICAS.items() for i in range(count))

#: One protobuf message in grpcurl's JSON form.
Message = dict[str, Any]

_CODES = {code.value[0]: code for code in grpc.StatusCode}
#: grpcurl exits with 64 + the gRPC status code when the rpc itself failed.
_GRPCURL_RPC_ERROR_BASE = 64


def tool_path(name: str) -> Path:
    """Where the tool ``name`` is; fails the test if it is not installed there."""
    directory = Path(os.environ.get(TOOLS_DIR_ENV) or REPO_ROOT / ".build" / "bin")
    path = directory / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"{name} is not installed at {path}: run `make tools` (or set ${TOOLS_DIR_ENV} to a directory holding it)",
            pytrace=False,
        )
    return path


@dataclass(frozen=True, slots=True)
class ToolRun:
    """What one run of a tool did."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        """The command and its output, for assertion messages."""
        return f"$ {' '.join(self.args)}\nexit code {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def run_tool(name: str, *args: str, stdin: str | None = None) -> ToolRun:
    """Runs a tool to completion (at most ``TOOL_TIMEOUT`` seconds) and captures its output."""
    argv = (str(tool_path(name)), *args)
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False, cwd=REPO_ROOT
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"$ {' '.join(argv)}\ndid not finish within {TOOL_TIMEOUT:g}s; stderr:\n{exc.stderr!r}")
    return ToolRun(argv, done.returncode, done.stdout, done.stderr)


def _grpcurl(address: str, *args: str, flags: Sequence[str] = (), stdin: str | None = None) -> ToolRun:
    max_time = str(TOOL_TIMEOUT - 5)
    return run_tool(GRPCURL, "-plaintext", "-max-time", max_time, *flags, address, *args, stdin=stdin)


def grpcurl_text(address: str, *command: str) -> str:
    """The output of a grpcurl command that prints text (``list``, ``describe``); fails if it fails."""
    run = _grpcurl(address, *command)
    assert run.returncode == 0, run.explain()
    return run.stdout


def describe(address: str, symbol: str) -> str:
    """``grpcurl describe <symbol>`` through the server's reflection."""
    return grpcurl_text(address, "describe", symbol)


def field_numbers(description: str) -> dict[str, int]:
    """Field (and enum value) names to numbers, read from ``grpcurl describe`` output."""
    numbers: dict[str, int] = {}
    for line in description.splitlines():
        words = line.strip().rstrip(";").split()
        if len(words) >= 3 and words[-2] == "=" and words[-1].isdigit():
            numbers[words[-3]] = int(words[-1])
    return numbers


def _json_values(text: str) -> list[Any]:
    """The JSON values grpcurl printed one after another (each pretty-printed, no separator)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return values
        value, position = decoder.raw_decode(text, position)
        values.append(value)


@dataclass(frozen=True, slots=True)
class Call:
    """The outcome of one rpc made with grpcurl: the messages received, then the status."""

    run: ToolRun
    messages: list[Message]
    code: grpc.StatusCode
    details: str

    def ok(self) -> list[Message]:
        """The messages received; fails unless the rpc ended with OK."""
        assert self.code == grpc.StatusCode.OK, self.run.explain()
        return self.messages

    def one(self) -> Message:
        """The single message of a successful unary rpc."""
        messages = self.ok()
        assert len(messages) == 1, self.run.explain()
        return messages[0]


def call(address: str, method: str, *requests: Mapping[str, Any], flags: Sequence[str] = ()) -> Call:
    """Calls ``method`` (``package.Service/Method``) with grpcurl and parses what it printed.

    Each request is sent as one JSON message on grpcurl's standard input (``-d @``):
    one for unary rpcs, any number for client streams; none sends an empty message.
    The final status is read back as JSON (``-format-error``) so its code and message can be checked.
    """
    data = ["-d", "@"] if requests else []
    stdin = "\n".join(json.dumps(r) for r in requests) if requests else None
    run = _grpcurl(address, method, flags=("-format-error", *data, *flags), stdin=stdin)
    try:
        values = _json_values(run.stdout)
    except ValueError:
        pytest.fail(f"grpcurl printed something other than JSON messages:\n{run.explain()}")
    if run.returncode == 0:
        return Call(run, values, grpc.StatusCode.OK, "")
    number = run.returncode - _GRPCURL_RPC_ERROR_BASE
    assert number in _CODES, f"grpcurl failed before the rpc ended:\n{run.explain()}"
    # -format-error prints the final status as JSON on stderr.
    try:
        (status,) = _json_values(run.stderr)
    except ValueError:
        pytest.fail(f"grpcurl printed no status as JSON:\n{run.explain()}")
    assert status.get("code", 0) == number, run.explain()
    return Call(run, values, _CODES[number], str(status.get("message", "")))


def probe(address: str, service: str | None = None) -> ToolRun:
    """Runs grpc-health-probe against ``address`` (the overall health unless ``service`` is named)."""
    args = [f"-addr={address}", "-connect-timeout=5s", "-rpc-timeout=5s"]
    if service is not None:
        args.append(f"-service={service}")
    return run_tool(HEALTH_PROBE, *args)


def unused_port() -> int:
    """A loopback port nothing listens on (bound by the OS, then released: a race only a negative test accepts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
