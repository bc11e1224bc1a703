"""Mutual TLS between the gateway and an executor served elsewhere (``docwire executor serve --tls-*``).

The executor listens on 127.0.0.2 (standing for another machine) with a certificate from the executors'
CA and requires a client certificate from the gateways' CA. A gateway showing one gets in; a gateway with
no certificate, with one from another CA, or speaking plaintext is refused, and the error names the
executor, its address and the TLS failure. The executor's health service is probed over the same TLS.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from executors import Appender, TextDoc
from mutual_pki import Authority, Issued
from standalone import Served, serving
from test_tls import TOOLS

from docwire import Flow, StartupError
from docwire.orchestration.config import load_flow_yaml
from docwire.transports.tls import MutualTls

REMOTE_HOST = "127.0.0.2"


@dataclass(frozen=True)
class Certificates:
    executors: Authority  # signs the executor's certificate; the gateway trusts it
    gateways: Authority  # signs the gateway's client certificate; the executor trusts it
    executor: Issued
    gateway: Issued
    rogue: Issued  # a client certificate from a CA the executor does not trust


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    directory = tmp_path_factory.mktemp("mtls")
    executors, gateways, rogues = (Authority(directory, name) for name in ("executors", "gateways", "rogues"))
    return Certificates(
        executors=executors,
        gateways=gateways,
        executor=executors.issue("executor", ips=(REMOTE_HOST,)),
        gateway=gateways.issue("gateway", client=True),
        rogue=rogues.issue("rogue", client=True),
    )


@pytest.fixture(scope="module")
def remote(certificates: Certificates) -> Iterator[Served]:
    command = ["executor", "serve", "--uses", "executors.Appender", "--name", "remote", "--host", REMOTE_HOST]
    tls = ["--tls-cert", str(certificates.executor.cert_file), "--tls-key", str(certificates.executor.key_file)]
    tls += ["--tls-client-ca", str(certificates.gateways.ca_file)]
    with serving([*command, *tls, "--uses-with", '{"suffix": "[far]"}']) as served:
        yield served


def _flow(remote: Served, executor_tls: MutualTls | None, *, near: bool = True) -> Flow:
    flow = Flow(host="127.0.0.1", executor_tls=executor_tls)
    if near:
        flow.add(uses=Appender, name="near")  # launched by the Flow: plaintext on loopback
    return flow.add(name="remote", host=REMOTE_HOST, port=remote.port, external=True)


def test_a_gateway_with_the_right_certificate_is_answered(certificates: Certificates, remote: Served) -> None:
    with _flow(remote, certificates.executors.trusting(certificates.gateway)) as flow:
        (response,) = flow.post("/x", [TextDoc(text="a")], return_responses=True)
        assert response.docs[0].text == "a[near][far]"
        assert [r.executor for r in response.routes] == ["gateway", "near", "remote"]
        assert flow.is_flow_ready()


def _refusals(certificates: Certificates) -> dict[str, tuple[MutualTls | None, str]]:
    executors = certificates.executors
    return {
        "no client certificate": (
            executors.trusting(None),
            "requires a client certificate, and the gateway shows none",
        ),
        "a client certificate from another CA": (
            executors.trusting(certificates.rogue),
            "does not accept the gateway's client certificate",
        ),
        "plaintext": (
            None,
            "the executor serves TLS and the gateway dials it in plaintext: give the gateway executor_tls",
        ),
    }


@pytest.mark.parametrize("case", ["no client certificate", "a client certificate from another CA", "plaintext"])
def test_a_gateway_without_a_trusted_certificate_is_refused(
    certificates: Certificates, remote: Served, case: str
) -> None:
    executor_tls, failure = _refusals(certificates)[case]
    with pytest.raises(StartupError) as refused:
        _flow(remote, executor_tls, near=False).start()  # at once, not after timeout_ready (60 s)
    message = str(refused.value)
    assert f"executor 'remote' at {REMOTE_HOST}:{remote.port} is unavailable" in message, message
    assert failure in message, message
    assert remote.process.poll() is None  # the executor serves on


def _probe(remote: Served, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [str(TOOLS / "grpc-health-probe"), f"-addr={REMOTE_HOST}:{remote.port}", "-connect-timeout=5s", *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_the_health_service_is_probed_over_mutual_tls(certificates: Certificates, remote: Served) -> None:
    tls = ["-tls", f"-tls-ca-cert={certificates.executors.ca_file}"]
    client = [f"-tls-client-cert={certificates.gateway.cert_file}", f"-tls-client-key={certificates.gateway.key_file}"]
    probed = _probe(remote, *tls, *client)
    assert probed.returncode == 0, probed.stderr
    assert "status: SERVING" in probed.stderr
    assert _probe(remote, *tls).returncode != 0  # no client certificate
    assert _probe(remote).returncode != 0  # plaintext


def test_yaml_names_the_files_relative_to_itself(certificates: Certificates, tmp_path: Path) -> None:
    (tmp_path / "flow.yml").write_text(
        "jtype: Flow\nwith:\n  executor_tls:\n"
        f"    certfile: {certificates.gateway.cert_file.name}\n"
        f"    keyfile: {certificates.gateway.key_file.name}\n"
        f"    ca_file: {certificates.executors.ca_file.name}\n"
        "executors:\n  - name: remote\n    host: 127.0.0.2\n    port: 8100\n    external: true\n"
    )
    for issued in (certificates.gateway.cert_file, certificates.gateway.key_file, certificates.executors.ca_file):
        (tmp_path / issued.name).write_bytes(issued.read_bytes())
    config, _ = load_flow_yaml(tmp_path / "flow.yml")
    assert config.executor_tls == MutualTls(
        certfile=str(tmp_path / "gateway.pem"),
        keyfile=str(tmp_path / "gateway.key"),
        ca_file=str(tmp_path / "executors-ca.pem"),
    )
