"""Items 6 and 7: ``profiling()`` prints seed 000's tree and returns its figures; ``show_progress`` draws a bar."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from client_scenarios import Served, protocols, serve
from executors import Appender, TextDoc

from docwire import AsyncClient, DocList
from docwire_client.profiling import latencies
from docwire_contract.v1 import request_pb2

PARTS = ["Roundtrip", "Client-server network", "Server", "Gateway-executors network"]


@pytest.fixture(scope="module", params=protocols())
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    def build(flow: object) -> object:
        return flow.add(uses=Appender, name="executor0").add(uses=Appender, name="executor1")  # type: ignore[attr-defined]

    with serve(request.param, build) as served:  # type: ignore[arg-type]
        yield served


def test_profiling_prints_the_tree_and_returns_its_figures(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    figures = served.client().profiling()
    assert list(figures) == [*PARTS, "executor0", "executor1"]
    assert all(value >= 0 for value in figures.values())
    assert figures["Roundtrip"] == pytest.approx(figures["Client-server network"] + figures["Server"])
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 6
    assert re.match(r"^Roundtrip +[\d.]+ms +100%$", printed[0].strip())
    assert printed[1].startswith("├── Client-server network")
    assert printed[2].startswith("└── Server")
    for line, name in zip(printed[3:], ["Gateway-executors network", "executor0", "executor1"], strict=True):
        assert re.match(rf"^[│ ]+[├└]── {name} +[\d.]+ms +\d+%$", line), line


async def test_profiling_quietly_from_the_async_client(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    async with AsyncClient(host="127.0.0.1", port=served.port, protocol=served.protocol) as client:
        figures = await client.profiling(inputs=TextDoc(text="hello"), show=False)
    assert set(figures) == {*PARTS, "executor0", "executor1"}
    assert capsys.readouterr().out == ""


def test_show_progress_counts_documents_and_requests(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    docs = DocList[TextDoc]([TextDoc(text=str(i)) for i in range(250)])
    returned = served.client().post("/", docs, request_size=20, show_progress=True)
    assert len(returned) == 250
    captured = capsys.readouterr()
    assert captured.out == ""  # the bar goes to stderr, out of the way of the program's output
    assert re.search(r"250 docs, 13 requests +[\d,]+ docs/s", captured.err), captured.err


def test_latencies_split_the_round_trip_by_the_routes() -> None:
    def route(executor: str, start_ms: int, end_ms: int) -> request_pb2.Route:
        made = request_pb2.Route(executor=executor)
        made.start_time.FromMilliseconds(start_ms)
        made.end_time.FromMilliseconds(end_ms)
        return made

    routes = [route("gateway", 0, 10), route("a", 1, 4), route("b", 5, 7), route("a", 8, 9)]
    assert latencies(15.0, routes) == {
        "Roundtrip": 15.0,
        "Client-server network": 5.0,
        "Server": 10.0,
        "Gateway-executors network": 4.0,
        "a": 4.0,  # an executor met twice counts both visits
        "b": 2.0,
    }
    skewed = latencies(8.0, [route("gateway", 0, 10), route("a", 0, 12)])  # clocks that disagree
    assert skewed["Client-server network"] == skewed["Gateway-executors network"] == 0.0
