"""Processes start, serve and stop as a unit: no orphans, whoever stops first."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from executors import Appender, FailingClose, SlowClose, TextDoc
from processes import banner_ports, is_running, serve_yaml, wait_gone

from docwire import Client, Deployment, Flow
from docwire.orchestration import flow as flow_module

ROOT = Path(__file__).parents[2]
FLOW_YAML = ROOT / "examples" / "yaml_flow" / "flow.yml"


def test_leaving_the_context_stops_every_process() -> None:
    flow = Flow(host="127.0.0.1").add(uses=Appender, replicas=2).add(uses=Appender)
    with flow:
        pids = flow.pids()
        assert len(pids) == 4  # three executor replicas and the gateway
        assert all(is_running(pid) for pid in pids)
    assert wait_gone(pids, timeout=10) == []


def test_an_executor_close_that_raises_is_logged_as_its_own_and_the_flow_stops(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with Flow(host="127.0.0.1").add(uses=FailingClose, name="index") as flow:
        pids = flow.pids()
    assert wait_gone(pids, timeout=10) == []
    log = capfd.readouterr().err
    assert "ERROR docwire.worker: index/rep-0: the executor's close() raised" in log, log
    assert "RuntimeError: cannot flush the index to disk" in log


def test_replicas_close_side_by_side_when_the_flow_stops(tmp_path: Path) -> None:
    """Every executor is asked to stop before the Flow waits for any, so their ``close`` (saving an index, say)
    run at the same time instead of one after the other."""
    with Flow(host="127.0.0.1").add(uses=SlowClose, replicas=3, uses_with={"log_dir": str(tmp_path)}):
        pass
    spans = [tuple(map(float, path.read_text().split())) for path in sorted(tmp_path.glob("*.close"))]
    assert len(spans) == 3
    assert max(began for began, _ in spans) < min(ended for _, ended in spans)  # all three were closing at once


def test_an_executor_that_does_not_stop_in_time_is_killed_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(flow_module, "STOP_TIMEOUT_S", 0.5)
    with Flow(host="127.0.0.1").add(uses=SlowClose, name="saver", uses_with={"log_dir": str(tmp_path), "seconds": 30}):
        pass
    assert "executor 'saver' rep-0 did not stop within" in caplog.text
    assert "killed" in caplog.text
    assert not list(tmp_path.glob("*.close"))  # its close never finished


def test_deployment_serves_one_executor_with_replicas() -> None:
    with Deployment(uses=Appender, name="dep", replicas=2, host="127.0.0.1") as dep:
        assert len(dep.pids()) == 3
        assert dep.post("/", TextDoc(text="a"), return_type=TextDoc).text == "a[dep]"


def test_workers_stop_when_their_launcher_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "launcher.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, sys, time
            from docwire import Flow
            with Flow(host="127.0.0.1").add().add() as flow:
                print(json.dumps(flow.pids()), flush=True)
                time.sleep(120)
            """
        )
    )
    launcher = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert launcher.stdout is not None
        pids = json.loads(launcher.stdout.readline())
        assert len(pids) == 3
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=10)
        assert wait_gone(pids, timeout=15) == []
    finally:
        launcher.kill()
        launcher.wait(timeout=10)
        if launcher.stdout is not None:
            launcher.stdout.close()


def test_cli_serves_a_yaml_flow_and_ping_checks_it() -> None:
    with serve_yaml(FLOW_YAML) as server:
        port = banner_ports(server, 1).get("grpc")
        assert port is not None, "docwire serve printed no address"
        ping = subprocess.run(
            [sys.executable, "-m", "docwire.cli", "ping", f"grpc://127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "is ready" in ping.stdout
        with Client(host=f"grpc://127.0.0.1:{port}") as client:
            docs = client.post("/", [TextDoc(text="1"), TextDoc(text="2")], return_type=TextDoc)
        assert docs.text == ["1hello, world!goodbye!", "2hello, world!goodbye!"]
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0


def test_ping_fails_on_a_closed_port() -> None:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ping = subprocess.run(
        [sys.executable, "-m", "docwire.cli", "ping", f"grpc://127.0.0.1:{port}", "--timeout", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ping.returncode == 1
    assert f"127.0.0.1:{port}" in ping.stdout
