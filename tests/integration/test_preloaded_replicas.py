"""Replicas forked from one preloaded interpreter (``docwire.runtime.preloaded``), not started one by one.

The Flow starts that interpreter once; it imports what every worker imports and forks each
replica. An executor with its own ``env`` is started as a new interpreter instead (variables
that libraries read when imported must be set before the imports). A single-threaded script
(``fork_launcher.py``) gets that interpreter as a fork of itself, having imported it all already;
a script running threads of its own gets a new one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from docarray import DocList
from executors import Lineage, TextDoc

from docwire import Client, Flow
from docwire.orchestration.preloader import FORK_LAUNCHER_ENV


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def test_replicas_share_one_preloaded_parent_and_an_executor_with_env_is_spawned() -> None:
    flow = (
        Flow(host="127.0.0.1")
        .add(uses=Lineage, name="forked", replicas=3)
        .add(uses=Lineage, name="spawned", env={"DOCWIRE_TEST_MARK": "set"})
    )
    with flow, Client(host="127.0.0.1", port=flow.port) as client:
        docs = DocList[TextDoc]([TextDoc(text=str(i)) for i in range(6)])
        replies = client.post("/", docs, request_size=1, return_responses=True)
        results = [dict(reply.parameters["__results__"]) for reply in replies]
        forked = {key: value for result in results for key, value in result.items() if key.startswith("forked/")}
        spawned = [value for result in results for key, value in result.items() if key.startswith("spawned/")]
        assert sorted(forked) == ["forked/rep-0", "forked/rep-1", "forked/rep-2"]
        parents = {int(result["ppid"]) for result in forked.values()}
        assert len(parents) == 1  # one interpreter forked them all
        (preloaded,) = parents
        assert preloaded != os.getpid()
        assert _parent_of(preloaded) == os.getpid()  # ...and the Flow started it
        assert len({int(result["pid"]) for result in forked.values()}) == 3
        assert {result["mark"] for result in forked.values()} == {None}
        assert {int(result["ppid"]) for result in spawned} == {os.getpid()}
        assert {result["mark"] for result in spawned} == {"set"}
    assert not Path(f"/proc/{preloaded}").exists()  # leaving the Flow stopped (and reaped) the interpreter


_LAUNCHER = Path(__file__).with_name("fork_launcher.py")


def _launch(mode: str, **env: str) -> dict[str, Any]:
    """Runs ``fork_launcher.py MODE`` as a user's script; its JSON report."""
    path = os.pathsep.join([str(_LAUNCHER.parent), *sys.path])
    done = subprocess.run(
        [sys.executable, str(_LAUNCHER), mode],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "PYTHONPATH": path, **env},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["texts"] == ["0", "1", "2", "3"]
    assert len(report["replicas"]) == 2
    assert len(report["parents"]) == 1  # one interpreter forked both replicas...
    assert report["forker_parent"] == report["launcher"]  # ...and the script's process started it
    assert report["rebound"]  # no copy of the script's process kept its closed listening socket
    return report


@pytest.mark.parametrize("mode", ["plain", "asyncio", "after-uvloop"])
def test_a_single_threaded_script_forks_itself_into_the_replicas_parent(mode: str) -> None:
    report = _launch(mode)
    assert report["forker"] == [sys.executable, str(_LAUNCHER), mode]  # a copy of the script: nothing imported again


@pytest.mark.parametrize(("mode", "env"), [("thread", {}), ("plain", {FORK_LAUNCHER_ENV: "0"})])
def test_a_script_running_threads_or_told_not_to_starts_a_new_interpreter(mode: str, env: dict[str, str]) -> None:
    report = _launch(mode, **env)
    assert report["forker"][1:] == ["-m", "docwire.runtime.preloaded", "--control-fd", report["forker"][-1]]
