"""Item 4: ``prefetch`` bounds the requests in flight, and a generator is pulled only as replies come back.

Peak memory for a million documents is measured by ``bench/client_memory.py``, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from client_scenarios import Served, protocols, serve
from executors import ConcurrencyProbe, TextDoc

from docwire import Response


@pytest.fixture(scope="module", params=protocols())
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param, lambda flow: flow.add(uses=ConcurrencyProbe, name="probe")) as served:
        yield served


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "unary"])
@pytest.mark.parametrize("prefetch", [1, 3])
def test_prefetch_bounds_the_requests_in_flight(served: Served, stream: bool, prefetch: int) -> None:
    responses = served.client().post(
        "/",
        [TextDoc(text=str(i)) for i in range(12)],
        request_size=1,
        prefetch=prefetch,
        stream=stream,
        parameters={"sleep": 0.05},
        return_responses=True,
    )
    in_flight = [r.parameters["__results__"]["probe/rep-0"]["in_flight"] for r in responses]
    assert len(in_flight) == 12
    assert max(in_flight) == prefetch  # the gateway would take 100; the client sends no more than prefetch


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "unary"])
def test_a_generator_is_pulled_only_as_fast_as_replies_come_back(served: Served, stream: bool) -> None:
    pulled = 0
    lead: list[int] = []  # documents pulled but not yet answered, seen at each reply
    answered = 0
    n_docs, request_size, prefetch = 800, 10, 4

    def documents() -> Iterator[TextDoc]:
        nonlocal pulled
        for i in range(n_docs):
            pulled += 1
            yield TextDoc(text=str(i))

    def on_done(response: Response[Any]) -> None:
        nonlocal answered
        answered += len(response.docs)
        lead.append(pulled - answered)

    served.client().post(
        "/",
        documents(),
        request_size=request_size,
        prefetch=prefetch,
        stream=stream,
        parameters={"sleep": 0.002},
        on_done=on_done,
    )
    assert answered == n_docs
    # At most `prefetch` requests in flight, plus the one being assembled (and the two
    # the client reads ahead to choose between one unary call and a stream).
    assert max(lead) <= (prefetch + 3) * request_size
