"""The curl and JavaScript commands of seeds 001 and 002, run as their readers would, against docwire gateways.

Seed 001's commands call the embedding service itself (``docwire.embed``, real models): the
remote image of its third command is fetched by the service through a loopback proxy (see
web_images), since tests reach no network.

Each command is the seed's text with only the address changed (``demo-cas.jina.ai:51000`` and
``localhost:12345`` become the test gateway's). Two corrections, both to the seeds' page
extraction rather than to the commands: trailing spaces after line-continuation backslashes
(which make bash end the command early) are dropped, and the ``},`` lines the extraction lost
from the JavaScript example are restored. The HTTPS command runs unchanged against a gateway
whose certificate a test CA issued; curl is pointed at the CA through ``CURL_CA_BUNDLE``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import EmbedService
from executors import IndexSearch
from PIL import Image
from test_tls import Pki, make_pki
from web_images import png_bytes

from docwire import Document, Flow
from docwire.embed.service import embed_flow
from docwire_client.embed import EmbedClient

SEED_001 = [
    """curl -X POST http://demo-cas.jina.ai:51000/post \\
     -H 'Content-Type: application/json' \\
     -d '{"data":[{"text": "First do it"}, {"text": "then do it right"}, {"text": "then do it better"}], \
"execEndpoint":"/"}'""",
    """curl -X POST http://demo-cas.jina.ai:51000/post \\
     -H 'Content-Type: application/json' \\
     -d '{"data":[{"text": "First do it"}, {"blob":"'"$( base64 test-1.jpeg)"'" }], "execEndpoint":"/"}'""",
    """curl -X POST http://demo-cas.jina.ai:51000/post \\
     -H 'Content-Type: application/json' \\
     -d '{"data":[{"text": "First do it"}, {"uri": "https://clip-as-service.jina.ai/_static/favicon.png"}], \
"execEndpoint":"/"}'""",
]
SEED_001_HTTPS_JQ = """curl -X POST https://demo-cas.jina.ai:8443/post \\
     -H 'Content-Type: application/json' \\
     -d '{"data":[{"text": "hello, world!"}, {"blob":"'"$( base64 test-1.jpeg)"'" }], "execEndpoint":"/"}' | \\
     jq -c '.data[] | .embedding'"""

SEED_002_CURL = [
    """curl --request POST \\
'http://localhost:12345/search' \\
--header 'Content-Type: application/json' -d '{"data": [{"text": "hello world"}]}'""",
    """curl --request POST 'http://localhost:12345/post' --header 'Content-Type: application/json' \
-d '{"data": [{"text": "hello world"}],"execEndpoint": "/search"}'""",
]
SEED_002_FETCH = """fetch('http://localhost:12345/post', {
    method: 'POST',
    headers: {
        'Content-Type': 'application/json'
    },
    body: JSON.stringify({"data": [{"text": "hello world"}],"execEndpoint": "/search"})
}).then(response => response.json()).then(data => console.log(data));"""


def _jpeg() -> bytes:
    """The photo the blob commands read (``base64 test-1.jpeg``)."""
    pixels = (np.random.default_rng(7).random((60, 80, 3)) * 255).astype("uint8")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG")
    return out.getvalue()


JPEG = _jpeg()


def _at(command: str, address: str) -> str:
    return re.sub(r"(https?://)(demo-cas\.jina\.ai:\d+|localhost:12345)", rf"\g<1>{address}", command)


def _run(command: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seed")
    (folder / "test-1.jpeg").write_bytes(JPEG)
    return folder


@pytest.fixture(scope="module")
def pki(workdir: Path) -> Pki:
    (workdir / "pki").mkdir()
    return make_pki(workdir / "pki")


@pytest.fixture(scope="module")
def clip(pki: Pki, embed_service: EmbedService) -> Iterator[tuple[Flow, Flow]]:
    """Seed 001's server twice: the embedding service over plain HTTP with CORS, and over HTTPS."""
    tls = embed_flow(host="127.0.0.1", protocol="http", ssl_certfile=str(pki.cert_file), ssl_keyfile=str(pki.key_file))
    with tls:
        yield embed_service.flow, tls


def _embeddings(service: EmbedService, inputs: list[Any]) -> list[list[float]]:
    """What the Python client gets for the same inputs, to compare the curl replies with."""
    with EmbedClient(service.address("grpc")) as client:
        return [np.asarray(doc.embedding).tolist() for doc in client.encode(inputs)]


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    """Seed 002's Flow: one executor serving /index and /search, the endpoints its HTTP paths name."""
    with Flow(host="127.0.0.1", protocol=["grpc", "http"], cors=True).add(uses=IndexSearch, name="first") as started:
        yield started


def _assert_reply_shape(body: dict[str, Any], executor: str) -> None:
    """What seeds 001 and 002 show of a reply: header, parameters, routes (gateway first) and data."""
    assert set(body) >= {"header", "parameters", "routes", "data"}
    assert re.fullmatch(r"[0-9a-f]{32}", body["header"]["requestId"])
    assert [route["executor"] for route in body["routes"]] == ["gateway", executor]
    for route in body["routes"]:
        assert route["startTime"] <= route["endTime"]


@pytest.mark.parametrize("number", range(len(SEED_001)), ids=["texts", "blob", "remote-uri"])
def test_seed_001_curl_commands(
    clip: tuple[Flow, Flow], embed_service: EmbedService, workdir: Path, number: int
) -> None:
    plain, _ = clip
    body = json.loads(_run(_at(SEED_001[number], f"127.0.0.1:{plain.ports['http']}"), workdir))
    _assert_reply_shape(body, "encoder")
    assert body["header"]["execEndpoint"] == "/"
    assert len(body["data"]) == [3, 2, 2][number]
    assert body["data"][0]["text"] == "First do it"
    sizes = [len(doc["embedding"]) for doc in body["data"]]
    assert sizes == [[384, 384, 384], [384, 1280], [384, 1280]][number]
    if number == 1:  # the base64 blob arrived as the file's bytes and was embedded as that image
        assert base64.b64decode(body["data"][1]["blob"]) == JPEG
        (expected,) = _embeddings(embed_service, [Document(blob=JPEG)])
        np.testing.assert_allclose(body["data"][1]["embedding"], expected, atol=1e-5)
    if number == 2:  # the service fetched the remote image (through the test's proxy) and embedded it
        assert body["data"][1]["uri"] == "https://clip-as-service.jina.ai/_static/favicon.png"
        (expected,) = _embeddings(embed_service, [Document(blob=png_bytes(100))])
        np.testing.assert_allclose(body["data"][1]["embedding"], expected, atol=1e-5)


def test_seed_001_https_and_jq(clip: tuple[Flow, Flow], embed_service: EmbedService, workdir: Path, pki: Pki) -> None:
    _, tls = clip
    command = _at(SEED_001_HTTPS_JQ, f"localhost:{tls.ports['http']}")
    lines = _run(command, workdir, {"CURL_CA_BUNDLE": str(pki.ca_file)}).splitlines()
    expected = _embeddings(embed_service, [Document(text="hello, world!"), Document(blob=JPEG)])
    for line, vector in zip(lines, expected, strict=True):
        np.testing.assert_allclose(json.loads(line), vector, atol=1e-5)


@pytest.mark.parametrize("number", range(len(SEED_002_CURL)), ids=["endpoint-path", "post"])
def test_seed_002_curl_commands(flow: Flow, workdir: Path, number: int) -> None:
    body = json.loads(_run(_at(SEED_002_CURL[number], f"localhost:{flow.ports['http']}"), workdir))
    _assert_reply_shape(body, "first")
    assert body["header"]["execEndpoint"] == "/search"
    assert [doc["text"] for doc in body["data"]] == ["hello world[first]"]


def test_seed_002_javascript_fetch(flow: Flow, workdir: Path) -> None:
    """The seed's ``fetch`` under Node 20; ``console.log`` prints JSON so the whole reply can be read back."""
    script = "console.log = (value) => process.stdout.write(JSON.stringify(value));\n" + _at(
        SEED_002_FETCH, f"localhost:{flow.ports['http']}"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    _assert_reply_shape(body, "first")
    assert body["header"]["execEndpoint"] == "/search"
    assert [doc["text"] for doc in body["data"]] == ["hello world[first]"]
