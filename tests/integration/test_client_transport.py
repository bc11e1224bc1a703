"""Items 5 and 9: compression shrinks the bytes on the wire; ``stream=False`` makes one unary call per
request; ``metadata=`` reaches the executors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_scenarios import Served, WireTap, protocols, serve
from executors import TextDoc, Toolbox

from docwire import DocList


@pytest.fixture(scope="module", params=protocols())
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve(request.param, lambda flow: flow.add(uses=Toolbox, name="toolbox")) as served:
        yield served


def compressible(n: int) -> DocList[TextDoc]:
    return DocList[TextDoc]([TextDoc(text=f"{i}: docwire streams documents. " * 200) for i in range(n)])


@pytest.fixture
def tapped(served: Served) -> Iterator[WireTap]:
    with WireTap(served.port) as tap:
        yield tap


@pytest.mark.parametrize("served", protocols("compression"), indirect=True)
@pytest.mark.parametrize("n_docs", [5, 40], ids=["unary", "stream"])
def test_compression_sends_fewer_bytes(served: Served, n_docs: int) -> None:
    docs = compressible(n_docs)
    sent: dict[str | None, int] = {}
    with WireTap(served.port) as tap:
        client = served.client(port=tap.port)
        for compression in (None, "gzip", "deflate", "GZIP"):
            tap.reset()
            returned = client.post(
                "/", docs, request_size=10, compression=compression, return_type=DocList[TextDoc], results_in_order=True
            )
            assert returned.text == docs.text
            sent[compression] = tap.sent
    assert sent["gzip"] < sent[None] / 3
    assert sent["deflate"] < sent[None] / 3
    assert sent["GZIP"] < sent[None] / 3


def test_an_unknown_compression_is_refused(served: Served) -> None:
    with pytest.raises(ValueError, match="compression must be None or one of"):
        served.client().post("/", TextDoc(), compression="brotli")


@pytest.mark.parametrize("served", protocols("http2"), indirect=True)
@pytest.mark.parametrize(("stream", "calls"), [(True, 1), (False, 4)], ids=["stream", "unary"])
def test_stream_false_makes_one_unary_call_per_request(
    served: Served, tapped: WireTap, stream: bool, calls: int
) -> None:
    client = served.client(port=tapped.port)
    client.is_flow_ready()  # connect first: only the posts are counted
    tapped.reset()
    docs = client.post("/", [TextDoc(text=str(i)) for i in range(12)], request_size=3, stream=stream, prefetch=2)
    assert len(docs) == 12
    assert tapped.calls == calls


@pytest.mark.parametrize("served", protocols("metadata"), indirect=True)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "unary"])
@pytest.mark.parametrize("n_docs", [1, 6])
def test_metadata_reaches_the_executors(served: Served, stream: bool, n_docs: int) -> None:
    headers = {"authorization": "Bearer s3cret", "x-team": "search"}
    responses = served.client().post(
        "/metadata", [TextDoc()] * n_docs, request_size=3, stream=stream, metadata=headers, return_responses=True
    )
    assert len(responses) == -(-n_docs // 3)
    for response in responses:
        received = response.parameters["__results__"]["toolbox/rep-0"]["metadata"]
        assert {k: v for k, v in received.items() if k in headers} == headers
        assert not [k for k in received if k.startswith(("grpc-", ":")) or k == "user-agent"]


def test_reserved_metadata_keys_are_refused(served: Served) -> None:
    with pytest.raises(ValueError, match="reserved"):
        served.client().post("/metadata", TextDoc(), metadata={"grpc-timeout": "1S"})


@pytest.mark.parametrize("served", ["websocket"], indirect=True)
def test_single_posts_over_websocket_share_one_socket_that_survives_a_gateway_restart(served: Served) -> None:
    with WireTap(served.port) as tap:
        client = served.client(port=tap.port)
        for i in range(20):
            assert client.post("/", TextDoc(text=str(i)), return_type=TextDoc).text == str(i)
        assert tap.connections == 1  # one handshake for all twenty
        served.flow.restart_gateway()  # the idle socket is closed under the client
        assert client.post("/", TextDoc(text="after"), return_type=TextDoc).text == "after"  # max_attempts=1
        assert tap.connections == 2
