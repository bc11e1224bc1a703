"""TLS between clients and the gateway, on both protocols (real processes, a CA made per test module).

The gateway presents a certificate issued by a throwaway CA for ``localhost`` and ``127.0.0.1``;
clients that trust the CA get in, clients that do not fail fast and clearly. Executors stay
plaintext on loopback behind the gateway.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from executors import Appender

from docwire import Client, DocList, Flow
from docwire.orchestration.banner import print_ready_banner
from docwire.orchestration.config import FlowConfig, load_flow_yaml
from docwire_client import Document, GatewayUnavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("DOCWIRE_TOOLS_BIN") or REPO_ROOT / ".build" / "bin")


@dataclass(frozen=True)
class Pki:
    """A CA and a server certificate it issued, as PEM files."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    #: A key that does not match ``cert_file``.
    other_key_file: Path

    @property
    def ca_pem(self) -> bytes:
        return self.ca_file.read_bytes()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_pki(directory: Path, dns_names: tuple[str, ...] = ()) -> Pki:
    """A CA, and a server certificate for DNS:localhost, IP:127.0.0.1 and ``dns_names`` signed by it."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("docwire test CA"))
        .issuer_name(_name("docwire test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    *(x509.DNSName(name) for name in dns_names),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server.key", directory / "other.key")
    pki.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(_key_pem(key))
    pki.other_key_file.write_bytes(_key_pem(ca_key))
    return pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def flow(pki: Pki) -> Iterator[Flow]:
    with Flow(
        host="127.0.0.1",
        protocol=["grpc", "http", "websocket"],
        ssl_certfile=pki.cert_file,
        ssl_keyfile=pki.key_file,
    ).add(uses=Appender, name="first") as started:
        yield started


def _https(flow: Flow, path: str) -> str:
    return f"https://localhost:{flow.ports['http']}{path}"


def _verifying(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=pki.ca_pem.decode())


def _tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = TOOLS / name
    if not path.is_file():
        pytest.fail(f"{name} is not installed at {path}: run `make tools`", pytrace=False)
    return subprocess.run([str(path), *args], capture_output=True, text=True, timeout=30, check=False)


# --- configuration ----------------------------------------------------------------------------------------


def test_tls_needs_both_the_certificate_and_the_key(pki: Pki) -> None:
    with pytest.raises(ValueError, match="ssl_keyfile is not"):
        FlowConfig(ssl_certfile=str(pki.cert_file))
    with pytest.raises(ValueError, match="ssl_certfile is not"):
        Flow(ssl_keyfile=pki.key_file)


def test_a_missing_file_is_named(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ValueError, match=r"ssl_certfile '.*nope\.pem' does not exist"):
        Flow(ssl_certfile=missing, ssl_keyfile=pki.key_file)
    with pytest.raises(ValueError, match=r"ssl_keyfile '.*nope\.pem' does not exist"):
        Flow(ssl_certfile=pki.cert_file, ssl_keyfile=missing)


def test_a_key_that_does_not_match_the_certificate_is_refused(pki: Pki) -> None:
    with pytest.raises(ValueError, match=r"cannot use ssl_certfile .*server\.pem.* with ssl_keyfile .*other\.key"):
        Flow(ssl_certfile=pki.cert_file, ssl_keyfile=pki.other_key_file)


def test_yaml_paths_are_relative_to_the_file(pki: Pki) -> None:
    yml = pki.cert_file.parent / "flow.yml"
    yml.write_text("with:\n  ssl_certfile: server.pem\n  ssl_keyfile: server.key\n  cors: [https://app.example]\n")
    config, _ = load_flow_yaml(yml)
    assert config.tls
    assert config.ssl_certfile == str(pki.cert_file.resolve())
    assert config.ssl_keyfile == str(pki.key_file.resolve())
    assert config.cors_origins == ("https://app.example",)


def test_banner_shows_the_tls_schemes(capsys: pytest.CaptureFixture[str]) -> None:
    print_ready_banner("Flow", "grpc", "0.0.0.0", 1234, {"http": 5678}, tls=True)
    err = capsys.readouterr().err
    assert "grpcs://127.0.0.1:1234" in err
    assert "https://127.0.0.1:5678" in err


# --- gRPC over TLS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_grpc_client_verifies_the_gateway_against_the_ca(flow: Flow, pki: Pki, host: str) -> None:
    with Client(host=f"grpcs://{host}:{flow.ports['grpc']}", root_certificates=pki.ca_pem) as client:
        assert client.is_flow_ready()
        docs = client.post("/any", [Document(text="a")], return_type=DocList[Document])
    assert docs[0].text == "a[first]"


@pytest.mark.parametrize("scheme", ["https", "wss"])
def test_http_and_websocket_clients_verify_the_gateway_against_the_ca(flow: Flow, pki: Pki, scheme: str) -> None:
    port = flow.ports["http" if scheme == "https" else "websocket"]
    with Client(host=f"{scheme}://localhost:{port}", root_certificates=pki.ca_pem) as client:
        assert client.is_flow_ready()
        docs = client.post("/any", [Document(text=str(i)) for i in range(30)], request_size=4)
        assert [d.text for d in docs] == [f"{i}[first]" for i in range(30)] or sorted(
            str(d.text) for d in docs
        ) == sorted(f"{i}[first]" for i in range(30))
    with Client(host=f"{scheme}://localhost:{port}") as untrusting, pytest.raises(GatewayUnavailable):
        untrusting.post("/any", [Document(text="a")])


def test_flow_own_client_speaks_tls(flow: Flow) -> None:
    docs = flow.post("/any", [Document(text="b")], return_type=DocList[Document])
    assert docs[0].text == "b[first]"


@pytest.mark.timeout(60)  # a hang guard, not a speed check: an untrusted certificate fails at once, not by retrying
def test_client_without_the_ca_fails_fast(flow: Flow) -> None:
    with Client(host=f"grpcs://localhost:{flow.ports['grpc']}") as client:
        with pytest.raises(GatewayUnavailable, match="cannot reach"):
            client.post("/any", [Document(text="a")])
        assert not client.is_flow_ready(timeout=5)


def test_plaintext_client_is_refused(flow: Flow) -> None:
    with Client(host=f"grpc://127.0.0.1:{flow.ports['grpc']}") as client, pytest.raises(ConnectionError):
        client.post("/any", [Document(text="a")])


def test_health_probe_over_tls(flow: Flow, pki: Pki) -> None:
    address = f"localhost:{flow.ports['grpc']}"
    run = _tool("grpc-health-probe", "-tls", "-tls-ca-cert", str(pki.ca_file), "-addr", address)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SERVING" in run.stdout + run.stderr
    plain = _tool("grpc-health-probe", "-addr", address, "-connect-timeout", "2s", "-rpc-timeout", "2s")
    assert plain.returncode != 0


def test_grpcurl_lists_services_over_tls(flow: Flow, pki: Pki) -> None:
    run = _tool("grpcurl", "-cacert", str(pki.ca_file), "-max-time", "20", f"localhost:{flow.ports['grpc']}", "list")
    assert run.returncode == 0, run.stdout + run.stderr
    listed = set(run.stdout.split())
    assert {"docwire.v1.GatewayService", "grpc.health.v1.Health"} <= listed


# --- HTTPS ------------------------------------------------------------------------------------------------


def test_https_post_and_dry_run(flow: Flow, pki: Pki) -> None:
    with httpx.Client(verify=_verifying(pki), timeout=30) as http:
        reply = http.post(_https(flow, "/post"), json={"data": [{"text": "h"}], "execEndpoint": "/any"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["data"][0]["text"] == "h[first]"
        assert http.get(_https(flow, "/dry_run")).json()["code"] == 0


def test_https_without_the_ca_is_not_trusted(flow: Flow) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(_https(flow, "/dry_run"), timeout=10)


def test_plain_http_gets_no_answer(flow: Flow) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{flow.ports['http']}/dry_run", timeout=10)
