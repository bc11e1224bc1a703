"""Backpressure and deadlines: the gateway bounds what one client stream has in flight."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from executors import ConcurrencyProbe, TextDoc

from docwire import Client, DocList, Flow, RequestTimeout


@pytest.fixture(scope="module")
def probed() -> Iterator[Flow]:
    with Flow(host="127.0.0.1", prefetch=3).add(uses=ConcurrencyProbe, name="probe") as flow:
        yield flow


def test_gateway_prefetch_bounds_requests_in_flight(probed: Flow) -> None:
    with Client(port=probed.port) as client:
        docs = DocList[TextDoc]([TextDoc(text=str(i)) for i in range(30)])
        responses = client.post("/", docs, request_size=1, prefetch=30, return_responses=True)
    in_flight = [r.parameters["__results__"]["probe/rep-0"]["in_flight"] for r in responses]
    assert len(in_flight) == 30
    assert max(in_flight) == 3  # the client offered 30 at once; the gateway let 3 through


def test_client_prefetch_bounds_requests_in_flight(probed: Flow) -> None:
    with Client(port=probed.port) as client:
        responses = client.post("/", [TextDoc()] * 8, request_size=1, prefetch=1, return_responses=True)
    assert [r.parameters["__results__"]["probe/rep-0"]["in_flight"] for r in responses] == [1] * 8


def test_request_deadline(probed: Flow) -> None:
    with Client(port=probed.port) as client, pytest.raises(RequestTimeout, match="probe"):
        client.post("/", TextDoc(), parameters={"sleep": 5}, timeout=0.2)
