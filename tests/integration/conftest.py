"""Fixtures that start real Flows (gateway + executor processes) on OS-chosen loopback ports."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from executors import Appender, DocAdder, Embedder, Faulty, Streamer, Strict

from docwire import Client, Flow


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
    """Executors that raise, die, and check schemas; two Faulty replicas."""
    flow = (
        Flow(host="127.0.0.1", max_message_size=1024 * 1024)
        .add(uses=Faulty, name="faulty", replicas=2)
        .add(uses=Strict, name="strict")
        .add(uses=Streamer, name="streamer")
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
