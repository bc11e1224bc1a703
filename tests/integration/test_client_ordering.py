"""Item 3: ``results_in_order=True`` returns results in input order even when replicas finish out of order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from client_scenarios import Served, protocols, serve
from executors import Dawdler, TextDoc

from docwire import DocList, Response

INPUT_TEXT = [f"ordinal-{i}" for i in range(180)]


@pytest.fixture(scope="module", params=protocols())
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param, lambda flow: flow.add(uses=Dawdler, name="dawdler", replicas=3)) as served:
        yield served


def inputs() -> DocList[TextDoc]:
    return DocList[TextDoc]([TextDoc(text=t) for t in INPUT_TEXT])


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "unary"])
def test_seed_example_random_sleeps_three_replicas(served: Served, stream: bool) -> None:
    output = served.client().post(
        "/", inputs(), request_size=10, results_in_order=True, stream=stream, return_type=DocList[TextDoc]
    )
    assert output.text == INPUT_TEXT


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "unary"])
def test_replies_that_overtake_the_first_wait_for_it(served: Served, stream: bool) -> None:
    arrived: list[str] = []

    def on_done(response: Response[Any]) -> None:
        arrived.append(response.docs.text[0])

    lagging = {"first_lags": True, "sleep": 0.0}
    client = served.client()
    client.post("/", inputs(), request_size=10, stream=stream, parameters=lagging, on_done=on_done)
    assert arrived[0] != "ordinal-0"  # the first request lags: others overtake it
    assert sorted(arrived) == sorted(INPUT_TEXT[::10])

    ordered: list[str] = []
    client.post(
        "/",
        inputs(),
        request_size=10,
        stream=stream,
        parameters=lagging,
        results_in_order=True,
        on_done=lambda r: ordered.extend(r.docs.text),
    )
    assert ordered == INPUT_TEXT
