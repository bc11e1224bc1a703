"""Fixtures that start real Flows (gateway + executor processes) on OS-chosen loopback ports."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from executors import Appender, DocAdder, Embedder, Faulty, Searcher, Streamer, Strict
from test_tls import Pki, make_pki
from web_images import ConnectProxy, ImageServer, environment, png_bytes

from docwire import Client, Flow
from docwire.embed.service import embed_flow


@pytest.fixture(scope="module")
def chain() -> Iterator[Flow]:
    """Two appenders with replicas, then an embedder and a generator endpoint."""
    flow = (
        Flow(host="127.0.0.1")
        .add(uses=Appender, name="first", replicas=2)
        .add(uses=Appender, name="second")
        .add(uses=Embedder, name="embedder")
    )
    with flow:
        yield flow


@pytest.fixture(scope="module")
def adders() -> Iterator[Flow]:
    """Seed 000's fooExecutor/barExecutor Flow."""
    with Flow(host="127.0.0.1").add(uses=DocAdder, name="fooExecutor").add(uses=DocAdder, name="barExecutor") as flow:
        yield flow


@pytest.fixture(scope="module")
def faulty() -> Iterator[Flow]:
    """Executors that raise, die, and check document and parameter schemas; two Faulty replicas."""
    flow = (
        Flow(host="127.0.0.1", max_message_size=1024 * 1024)
        .add(uses=Faulty, name="faulty", replicas=2)
        .add(uses=Strict, name="strict")
        .add(uses=Streamer, name="streamer")
        .add(uses=Searcher, name="searcher")
    )
    with flow:
        yield flow


@pytest.fixture
def client_of() -> Iterator[object]:
    """Makes clients for a Flow and closes them after the test."""
    made: list[Client] = []

    def make(flow: Flow, **kwargs: object) -> Client:
        client = Client(host="127.0.0.1", port=flow.port, **kwargs)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collects garbage after each test, so that an unclosed resource warns in the test that leaked it."""
    yield
    gc.collect()


@dataclass(frozen=True)
class EmbedService:
    """The embedding service as the tests run it, with the images it can fetch."""

    flow: Flow
    workdir: Path
    pki: Pki
    #: ``http://127.0.0.1:<port>/<name>`` of images a plain loopback server serves.
    image_url: Callable[[str], str]

    def address(self, protocol: str) -> str:
        return f"{protocol}://127.0.0.1:{self.flow.ports[protocol]}"


#: The remote image of seed 001's curl command; the service reaches it through web_images.ConnectProxy.
SEED_IMAGE_HOST = "clip-as-service.jina.ai"
SEED_IMAGE_PATH = "/_static/favicon.png"


@pytest.fixture(scope="session")
def embed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbedService]:
    """``docwire.embed.service.embed_flow`` over gRPC, HTTP (CORS on) and WebSocket, real models, flat index.

    The service's processes get ``https_proxy`` and ``SSL_CERT_FILE`` so that seed 001's remote
    image URL leads to a loopback HTTPS server (see web_images); loopback stays direct.
    """
    workdir = tmp_path_factory.mktemp("embed")
    pki = make_pki(workdir, dns_names=(SEED_IMAGE_HOST,))
    images = {f"/{i}.png": png_bytes(i) for i in range(4)} | {SEED_IMAGE_PATH: png_bytes(100)}
    plain = ImageServer(images)
    secure = ImageServer(images, pki.cert_file, pki.key_file)
    with plain, secure, ConnectProxy(secure.port) as proxy:
        settings = {
            "https_proxy": f"http://127.0.0.1:{proxy.port}",
            "no_proxy": "127.0.0.1,localhost",
            "SSL_CERT_FILE": str(pki.ca_file),
        }
        flow = embed_flow(
            host="127.0.0.1", protocol=["grpc", "http", "websocket"], workspace=str(workdir / "index"), cors=True
        )
        with contextlib.ExitStack() as running:
            with environment(settings):  # only the service's processes, started here, keep these
                running.enter_context(flow)
            yield EmbedService(flow, workdir, pki, lambda name: f"http://127.0.0.1:{plain.port}/{name}")
