"""Runs the containers of exported Kubernetes manifests as a cluster would, minus the containers.

``unshare --net --mount python pod_network.py <manifest dir> <working dir>`` (as root): in a network
namespace of its own (so the manifests' fixed ports are free) with loopback up, and a mount namespace
whose /etc/resolv.conf names a DNS server on 127.0.0.1:53 that answers every
``<service>.<namespace>.svc.cluster.local`` with 127.0.0.1 (kube-dns for headless Services), it starts
``docwire`` with each container's exact ``args`` (one replica per Deployment: they share the address),
in ``working dir`` (the image's /app), checks each container's gRPC health probe port as the kubelet would,
sends one request through the gateway, and prints what it saw as JSON on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import grpc
import yaml
from dnslib import QTYPE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from docwire import BaseDoc, Client, DocList

PROBE_TIMEOUT_S = 60.0


class ClusterDns(BaseResolver):  # type: ignore[misc]
    """Every Service name of the cluster domain is on this machine."""

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        if request.q.qtype == QTYPE.A and str(request.q.qname).rstrip(".").endswith(".svc.cluster.local"):
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("127.0.0.1"), ttl=0))
        return reply


class TextDoc(BaseDoc):
    text: str = ""


def _containers(manifests: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(manifests.glob("*.yml")):
        for item in yaml.safe_load_all(path.read_text()):
            if item["kind"] == "Deployment":
                found.extend(item["spec"]["template"]["spec"]["containers"])
    return found


def _probe(port: int) -> str:
    """The kubelet's gRPC readiness probe: grpc.health.v1 with no service name, until it says SERVING.

    Watch streams each status change, so this waits for the server to become ready without polling;
    it returns the last status seen if the deadline passes first.
    """
    status = "UNKNOWN"
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(), timeout=PROBE_TIMEOUT_S, wait_for_ready=True
        )
        try:
            for reply in watch:
                status = str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
        finally:
            watch.cancel()
    return status


def main() -> None:
    manifests, workdir = Path(sys.argv[1]), Path(sys.argv[2])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    resolv = Path(tempfile.mkdtemp()) / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True)
    quiet = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data")
    DNSServer(ClusterDns(), address="127.0.0.1", port=53, logger=quiet).start_thread()
    docwire = str(Path(sys.executable).with_name("docwire"))
    processes = []
    report: dict[str, Any] = {"probes": {}}
    try:
        containers = _containers(manifests)
        for container in containers:
            command = [docwire, *container["args"]]  # the image's ENTRYPOINT is `docwire`
            env = {**os.environ, **{e["name"]: e["value"] for e in container.get("env", [])}}
            processes.append(subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL))
        for container in containers:
            port = container["readinessProbe"]["grpc"]["port"]
            report["probes"][f"{container['args'][0]}:{port}"] = _probe(port)
        gateway = next(c for c in containers if c["args"][0] == "gateway")
        port = gateway["readinessProbe"]["grpc"]["port"]
        with Client(host=f"grpc://127.0.0.1:{port}") as client:
            docs = client.post("/shout", [TextDoc(text="hello")], return_type=DocList[TextDoc])
        report["texts"] = list(docs.text)
    finally:
        for process in processes:
            process.terminate()
        report["exit_codes"] = [process.wait(timeout=30) for process in processes]
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
