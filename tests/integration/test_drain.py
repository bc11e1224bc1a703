"""Graceful drain (issue 15 item 3): SIGTERM to ``docwire serve`` answers the calls under way, refuses new ones
with UNAVAILABLE / 503, says NOT_SERVING on health first, exits within a bounded time, and leaves nothing
running or listening."""

from __future__ import annotations

import re
import signal
import socket
import textwrap
import threading
import time
from pathlib import Path

import grpc
import httpx
import pytest
from executors import TextDoc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from processes import banner_ports, descendants, serve_yaml, wait_gone

from docwire import Client, GatewayUnavailable

HOST = "127.0.0.1"
EXECUTORS = Path(__file__).with_name("executors.py")
URIS = re.compile(r"(grpc|http)://127\.0\.0\.1:(\d+)")
#: Seconds each slow call takes (Lagger waits as many seconds as its first document's text says).
SLOW = 2.0


def _health(port: int) -> int:
    with grpc.insecure_channel(f"{HOST}:{port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    status: int = reply.status
    return status


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((HOST, port)) == 0


def test_sigterm_drains_then_exits_leaving_nothing_behind(tmp_path: Path) -> None:
    flow_yml = tmp_path / "flow.yml"
    flow_yml.write_text(
        textwrap.dedent(f"""\
            jtype: Flow
            with: {{protocol: [grpc, http], host: {HOST}}}
            executors:
              - {{name: lagger, uses: Lagger, py_modules: [{EXECUTORS}], replicas: 2}}
        """)
    )
    with serve_yaml(flow_yml) as server:
        ports = banner_ports(server, 2)
        assert set(ports) == {"grpc", "http"}, "docwire serve printed no addresses"
        assert server.stderr is not None
        threading.Thread(target=server.stderr.read, daemon=True).start()  # keeps the pipe from filling up
        processes = descendants(server.pid)
        assert len(processes) == 4  # the gateway, the preloaded interpreter and the two replicas it forked
        assert _health(ports["grpc"]) == health_pb2.HealthCheckResponse.SERVING

        answers: list[str | None] = []

        def slow_call() -> None:
            with Client(host=HOST, port=ports["grpc"]) as client:
                answers.extend(doc.text for doc in client.post("/", [TextDoc(text=str(SLOW))]))

        callers = [threading.Thread(target=slow_call) for _ in range(3)]
        for caller in callers:
            caller.start()
        time.sleep(0.8)  # the three are under way
        stopped_at = time.monotonic()
        server.send_signal(signal.SIGTERM)

        deadline = time.monotonic() + 5  # bounded: health flips within a fraction of a second
        status = _health(ports["grpc"])
        while status == health_pb2.HealthCheckResponse.SERVING and time.monotonic() < deadline:
            time.sleep(0.05)
            status = _health(ports["grpc"])
        assert status == health_pb2.HealthCheckResponse.NOT_SERVING
        # New work is refused while the calls under way finish.
        with Client(host=HOST, port=ports["grpc"]) as client, pytest.raises(GatewayUnavailable, match="stopping"):
            client.post("/", TextDoc(text="0"))
        refused = httpx.post(f"http://{HOST}:{ports['http']}/post", json={"data": [{"text": "0"}]}, timeout=10)
        assert refused.status_code == 503, refused.text

        for caller in callers:
            caller.join(timeout=30)
        assert answers == [f"{SLOW}!"] * 3  # every call under way was answered
        assert server.wait(timeout=20) == 0
        assert time.monotonic() - stopped_at < 15
        assert wait_gone(processes, timeout=10) == []
        assert not _listening(ports["grpc"])
        assert not _listening(ports["http"])
