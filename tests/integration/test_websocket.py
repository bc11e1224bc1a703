"""The WebSocket transport, spoken by a raw ``websockets`` client to real gateways (see docs/websocket.md).

Frames: ``json`` (the default) takes and answers what ``POST /post`` does, one request per text
frame; ``bytes`` takes and answers serialized ``docwire.v1.DataRequest``s. ``{"end": true}`` (json)
or an empty binary frame (bytes) ends the input; the server answers the rest, echoes the marker
and closes with 1000 (jina.Client's ``0x00`` marker: no echo). ``/dry_run`` answers the readiness.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from docarray import DocList
from executors import Appender, ConcurrencyProbe, Faulty, Strict, TextDoc, Toolbox
from test_tls import Pki, make_pki
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus
from websockets.typing import Origin, Subprotocol

from docwire import Client, Flow
from docwire.orchestration.banner import print_ready_banner
from docwire.orchestration.config import load_flow_yaml
from docwire.transports.websocket import close_reason
from docwire_client import Document
from docwire_contract.codec import decode_docs, encode_docs
from docwire_contract.errors import GatewayUnavailable
from docwire_contract.status_map import close_code_of_code, grpc_code_of_close
from docwire_contract.v1 import request_pb2

EXECUTORS = Path(__file__).with_name("executors.py")
JSON = [Subprotocol("json")]
BYTES = [Subprotocol("bytes")]
END = '{"end":true}'
ALLOWED = "https://app.example"
#: Every loop waiting for frames stops after this many: a test that gets fewer fails instead of hanging.
MAX_FRAMES = 500


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    """gRPC, HTTP and WebSocket from one gateway; an appender, executors that raise and check schemas."""
    with (
        Flow(host="127.0.0.1", protocol=["grpc", "http", "websocket"], port=[0, 0, 0], max_message_size=1024 * 1024)
        .add(uses=Appender, name="first")
        .add(uses=Faulty, name="faulty")
        .add(uses=Strict, name="strict") as started
    ):
        yield started


@pytest.fixture(scope="module")
def probed() -> Iterator[Flow]:
    """A gateway with prefetch 3 in front of an executor reporting how many requests it runs at once."""
    with (
        Flow(host="127.0.0.1", protocol=["websocket", "grpc"], prefetch=3)
        .add(uses=ConcurrencyProbe, name="probe")
        .add(uses=Toolbox, name="toolbox") as started
    ):
        yield started


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secure(pki: Pki) -> Iterator[Flow]:
    """WebSocket alone, over TLS, letting browsers connect from one origin."""
    with Flow(
        host="127.0.0.1", protocol="websocket", ssl_certfile=pki.cert_file, ssl_keyfile=pki.key_file, cors=[ALLOWED]
    ).add(uses=Appender, name="first") as started:
        yield started


def _url(flow: Flow) -> str:
    return f"ws://127.0.0.1:{flow.ports['websocket']}/"


def _request(request_id: str | None, endpoint: str, *texts: str, **extra: Any) -> str:
    body: dict[str, Any] = {"execEndpoint": endpoint, "data": [{"text": t} for t in texts], **extra}
    if request_id is not None:
        body["header"] = {"requestId": request_id}
    return json.dumps(body)


def _data_request(request_id: str | None, endpoint: str, *texts: str) -> bytes:
    request = request_pb2.DataRequest()
    if request_id is not None:
        request.header.request_id = request_id
    request.header.exec_endpoint = endpoint
    request.data.docs_bytes = encode_docs(DocList[TextDoc](TextDoc(text=t) for t in texts))
    return request.SerializeToString()


def _texts(reply: request_pb2.DataRequest) -> list[str]:
    content = reply.data
    raw = content.docs_bytes if content.WhichOneof("documents") == "docs_bytes" else content.docs.SerializeToString()
    return [doc.text for doc in decode_docs(raw, TextDoc)]


async def _replies(ws: ClientConnection, count: int) -> list[Any]:
    """The next ``count`` frames, JSON ones parsed."""
    frames = []
    for _ in range(count):
        frame = await ws.recv()
        frames.append(json.loads(frame) if isinstance(frame, str) else request_pb2.DataRequest.FromString(frame))
    return frames


async def _read_until_closed(ws: ClientConnection, frames: list[str | bytes]) -> None:
    """Appends each frame to ``frames`` until the connection ends (raising ConnectionClosed) or MAX_FRAMES came."""
    for _ in range(MAX_FRAMES):
        frames.append(await ws.recv())


async def _closed(ws: ClientConnection) -> tuple[int, str]:
    """Reads until the server closes; the close code and reason (frames on the way are dropped)."""
    with pytest.raises(ConnectionClosed) as closed:
        await _read_until_closed(ws, [])
    received = closed.value.rcvd
    assert received is not None, "the connection ended without a close frame"
    return received.code, received.reason


async def _finish(ws: ClientConnection, marker: str | bytes = END) -> None:
    """Sends the end marker; checks the server echoes it and closes with 1000."""
    await ws.send(marker)
    assert await ws.recv() == marker
    assert await _closed(ws) == (1000, "every request is answered")


def _status(reply: dict[str, Any]) -> dict[str, Any]:
    return dict(reply["header"].get("status", {}))


# --- json -------------------------------------------------------------------------------------------------


async def test_json_is_the_default_subprotocol(flow: Flow) -> None:
    async with connect(_url(flow)) as ws:
        assert ws.subprotocol is None  # none offered, none answered: json
        await ws.send(_request("r1", "/x", "hi", "yo", parameters={"k": 1}))
        [reply] = await _replies(ws, 1)
        assert reply["header"]["requestId"] == "r1"
        assert reply["header"]["execEndpoint"] == "/x"
        assert _status(reply).get("code", 0) == 0
        assert [d["text"] for d in reply["data"]] == ["hi[first]", "yo[first]"]
        assert reply["parameters"]["k"] == 1
        assert [r["executor"] for r in reply["routes"]] == ["gateway", "first"]
        await _finish(ws)


async def test_json_frames_take_and_answer_what_http_post_does(flow: Flow) -> None:
    body = {"data": [{"text": "a", "id": "doc-1"}], "exec_endpoint": "/ok", "target_executor": "faulty"}
    async with httpx.AsyncClient(timeout=30) as client:
        http = (await client.post(f"http://127.0.0.1:{flow.ports['http']}/post", json=body)).json()
    async with connect(_url(flow), subprotocols=JSON) as ws:
        assert ws.subprotocol == "json"
        await ws.send(json.dumps(body))
        [reply] = await _replies(ws, 1)
        await _finish(ws)
    assert reply["data"] == http["data"] == [{"id": "doc-1", "text": "ok"}]
    assert [r["executor"] for r in reply["routes"]] == [r["executor"] for r in http["routes"]] == ["gateway", "faulty"]
    assert set(reply) == set(http)
    assert set(reply["header"]) == set(http["header"])


async def test_a_request_without_an_id_gets_one(flow: Flow) -> None:
    async with connect(_url(flow), subprotocols=JSON) as ws:
        await ws.send(_request(None, "/x", "a"))
        await ws.send(_request(None, "/x", "b"))
        replies = await _replies(ws, 2)
        await _finish(ws)
    ids = {r["header"]["requestId"] for r in replies}
    assert len(ids) == 2
    assert all(len(i) == 32 for i in ids)


async def _stream_many(ws: ClientConnection, frames: Sequence[str | bytes], marker: str | bytes) -> list[Any]:
    """Sends every frame and the end marker while reading: the replies, then checks the closing."""

    async def send_all() -> None:
        for frame in frames:
            await ws.send(frame)
        await ws.send(marker)

    sending = asyncio.create_task(send_all())
    replies = await _replies(ws, len(frames))
    await sending
    assert await ws.recv() == marker
    assert await _closed(ws) == (1000, "every request is answered")
    return replies


async def test_many_json_requests_over_one_socket(flow: Flow) -> None:
    frames = [_request(f"req-{i}", "/x", f"t{i}-a", f"t{i}-b") for i in range(60)]
    async with connect(_url(flow), subprotocols=JSON) as ws:
        replies = await _stream_many(ws, frames, END)
    by_id = {r["header"]["requestId"]: [d["text"] for d in r["data"]] for r in replies}
    assert by_id == {f"req-{i}": [f"t{i}-a[first]", f"t{i}-b[first]"] for i in range(60)}


async def test_executor_error_is_an_error_reply_and_the_socket_goes_on(flow: Flow) -> None:
    async with connect(_url(flow), subprotocols=JSON) as ws:
        await ws.send(_request("bad", "/fail", "a"))
        [failed] = await _replies(ws, 1)
        await ws.send(_request("good", "/ok", "b"))
        [ok] = await _replies(ws, 1)
        await _finish(ws)
    assert failed["header"]["requestId"] == "bad"
    status = _status(failed)
    assert status["code"] == 1
    assert status["exception"]["name"] == "NotImplementedError"
    assert status["exception"]["args"] == ["no time for it"]
    assert status["exception"]["executor"] == "faulty"
    assert ok["header"]["requestId"] == "good"
    assert [d["text"] for d in ok["data"]] == ["ok"]


async def test_gateway_errors_are_error_replies_too(flow: Flow) -> None:
    async with connect(_url(flow), subprotocols=JSON) as ws:
        await ws.send(_request("nowhere", "/nowhere", "a", targetExecutor="faulty"))
        [reply] = await _replies(ws, 1)
        await _finish(ws)
    assert reply["header"]["requestId"] == "nowhere"
    assert _status(reply)["exception"]["name"] == "EndpointNotFound"


async def test_malformed_json_gets_an_error_naming_the_position(flow: Flow) -> None:
    async with connect(_url(flow), subprotocols=JSON) as ws:
        await ws.send('{"data": [}')
        [bad] = await _replies(ws, 1)
        await ws.send("[1, 2]")
        [not_object] = await _replies(ws, 1)
        await ws.send(b"{}")
        [binary] = await _replies(ws, 1)
        await ws.send(_request("after", "/x", "still here"))
        [good] = await _replies(ws, 1)
        await _finish(ws)
    status = _status(bad)
    assert status["code"] == 1
    assert status["exception"]["name"] == "BadRequest"
    assert status["description"].startswith("frame 1: ")
    assert "line 1 column 11" in status["description"]
    assert bad["header"]["requestId"] == ""
    assert "must be a JSON object" in _status(not_object)["description"]
    assert _status(not_object)["description"].startswith("frame 2: ")
    assert "takes text frames" in _status(binary)["description"]
    assert [d["text"] for d in good["data"]] == ["still here[first]"]


async def test_values_nested_too_deep_get_an_error_reply_and_the_socket_goes_on(flow: Flow) -> None:
    """A frame nesting arrays 100,000 deep (the parser's recursion) or a document's tags 900 deep (the
    converters'): each gets its error reply (they ended the whole session with 1011)."""
    deep_tags = {"execEndpoint": "/x", "data": [{"text": "a", "tags": {}}], "header": {"requestId": "deep"}}
    text = json.dumps(deep_tags).replace('"tags": {}', '"tags": {"x": ' + "[" * 900 + "]" * 900 + "}")
    async with connect(_url(flow), subprotocols=JSON) as ws:
        await ws.send("[" * 100_000 + "]" * 100_000)
        [parsed] = await _replies(ws, 1)
        await ws.send(text)
        [converted] = await _replies(ws, 1)
        await ws.send(_request("after", "/x", "still here"))
        [good] = await _replies(ws, 1)
        await _finish(ws)
    for reply in (parsed, converted):
        assert _status(reply)["exception"]["name"] == "BadRequest"
        assert "nest deeper than docwire reads them" in _status(reply)["description"]
    assert converted["header"]["requestId"] == "deep"
    assert [d["text"] for d in good["data"]] == ["still here[first]"]


async def test_documents_not_fitting_the_schema_are_named_with_the_request_id(flow: Flow) -> None:
    async with connect(_url(flow), subprotocols=JSON) as ws:
        await ws.send(json.dumps({"header": {"requestId": "s1"}, "execEndpoint": "/strict", "data": [{"text": "a"}]}))
        [bad] = await _replies(ws, 1)
        await ws.send(
            json.dumps(
                {
                    "request_id": "s2",
                    "exec_endpoint": "/strict",
                    "target_executor": "strict",
                    "data": [{"text": "a", "count": 1}],
                }
            )
        )
        [good] = await _replies(ws, 1)
        await ws.send(json.dumps({"requestId": "s3", "nonsense": 1}))
        [unknown] = await _replies(ws, 1)
        await _finish(ws)
    assert bad["header"]["requestId"] == "s1"
    assert _status(bad)["exception"]["name"] == "DocumentSchemaError"
    assert "data[0].count" in _status(bad)["description"]
    assert good["header"]["requestId"] == "s2"
    assert good["data"][0]["count"] == 2
    assert unknown["header"]["requestId"] == "s3"
    assert "nonsense" in _status(unknown)["description"]


# --- bytes ------------------------------------------------------------------------------------------------


async def test_bytes_subprotocol_speaks_serialized_data_requests(flow: Flow) -> None:
    async with connect(_url(flow), subprotocols=BYTES) as ws:
        assert ws.subprotocol == "bytes"
        await ws.send(_data_request("b1", "/x", "one", "two"))
        [reply] = await _replies(ws, 1)
        await ws.send(_data_request(None, "/x", "three"))
        [unnamed] = await _replies(ws, 1)
        await _finish(ws, b"")
    assert reply.header.request_id == "b1"
    assert reply.header.status.code == request_pb2.Status.CODE_SUCCESS
    assert _texts(reply) == ["one[first]", "two[first]"]
    assert [r.executor for r in reply.routes] == ["gateway", "first"]
    assert len(unnamed.header.request_id) == 32
    assert _texts(unnamed) == ["three[first]"]


async def test_many_bytes_requests_over_one_socket(flow: Flow) -> None:
    frames = [_data_request(f"req-{i}", "/x", f"t{i}") for i in range(55)]
    async with connect(_url(flow), subprotocols=BYTES) as ws:
        replies = await _stream_many(ws, frames, b"")
    assert {r.header.request_id: _texts(r) for r in replies} == {f"req-{i}": [f"t{i}[first]"] for i in range(55)}


async def test_undecodable_bytes_get_an_error_reply_and_the_socket_goes_on(flow: Flow) -> None:
    async with connect(_url(flow), subprotocols=BYTES) as ws:
        await ws.send(b"\xff\xff\xff")
        [bad] = await _replies(ws, 1)
        await ws.send("{}")
        [text] = await _replies(ws, 1)
        await ws.send(_data_request("fail", "/fail", "x"))
        [failed] = await _replies(ws, 1)
        await ws.send(_data_request("after", "/x", "y"))
        [good] = await _replies(ws, 1)
        await _finish(ws, b"")
    assert bad.header.status.code == request_pb2.Status.CODE_ERROR
    assert bad.header.status.exception.name == "BadRequest"
    assert bad.header.status.description.startswith("frame 1: it is not a serialized docwire.v1.DataRequest")
    assert "takes binary frames" in text.header.status.description
    assert failed.header.request_id == "fail"
    assert failed.header.status.exception.name == "NotImplementedError"
    assert _texts(good) == ["y[first]"]


async def test_jinas_end_marker_closes_after_the_replies_without_an_echo(flow: Flow) -> None:
    """jina.Client ends its input with one 0x00 byte and reads every frame it gets as a reply."""
    async with connect(_url(flow), subprotocols=BYTES) as ws:
        await ws.send(_data_request("j1", "/x", "one"))
        await ws.send(_data_request("j2", "/x", "two"))
        await ws.send(b"\x00")
        frames: list[str | bytes] = []
        with pytest.raises(ConnectionClosed) as closed:
            await _read_until_closed(ws, frames)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1000, "every request is answered")
    replies = [request_pb2.DataRequest.FromString(frame) for frame in frames if isinstance(frame, bytes)]
    assert len(replies) == len(frames) == 2
    assert {r.header.request_id: _texts(r) for r in replies} == {"j1": ["one[first]"], "j2": ["two[first]"]}


@pytest.mark.parametrize("subprotocols", [BYTES, JSON])
async def test_dry_run_socket_answers_the_readiness_then_closes(flow: Flow, subprotocols: list[Subprotocol]) -> None:
    async with connect(_url(flow) + "dry_run", subprotocols=subprotocols) as ws:
        frame = await ws.recv()
        await ws.send(b"")  # what jina.Client's is_flow_ready sends
        assert await _closed(ws) == (1000, "dry run answered")
    if subprotocols == BYTES:
        assert isinstance(frame, bytes)
        status = request_pb2.Status.FromString(frame)
        assert (status.code, status.description) == (request_pb2.Status.CODE_SUCCESS, "ready")
    else:
        assert isinstance(frame, str)
        assert json.loads(frame)["description"] == "ready"


# --- the connection ---------------------------------------------------------------------------------------


async def test_unknown_subprotocol_is_refused(flow: Flow) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(_url(flow), subprotocols=[Subprotocol("xml")]):
            pytest.fail("the handshake was accepted")
    assert refused.value.response.status_code == 400
    body = json.loads(refused.value.response.body or b"{}")
    assert "'xml'" in body["message"]
    assert "json" in body["message"]
    assert "bytes" in body["message"]


async def test_one_known_subprotocol_among_others_is_chosen(flow: Flow) -> None:
    async with connect(_url(flow), subprotocols=[Subprotocol("xml"), Subprotocol("bytes")]) as ws:
        assert ws.subprotocol == "bytes"
        await _finish(ws, b"")


async def test_oversized_frame_closes_with_1009(flow: Flow) -> None:
    async with connect(_url(flow), subprotocols=JSON) as ws:
        await ws.send(_request("big", "/x", "x" * (1024 * 1024)))
        code, reason = await _closed(ws)
    assert code == 1009
    assert "exceeds limit of 1048576 bytes" in reason
    async with connect(_url(flow)) as ws:  # the gateway goes on
        await ws.send(_request("small", "/x", "x"))
        [reply] = await _replies(ws, 1)
        await _finish(ws)
    assert reply["header"]["requestId"] == "small"


async def test_client_leaving_mid_stream_does_not_hurt_the_gateway(flow: Flow) -> None:
    async with connect(_url(flow), subprotocols=JSON) as ws:
        for i in range(10):
            await ws.send(_request(f"gone-{i}", "/x", "a"))
    async with connect(_url(flow), subprotocols=JSON) as ws:
        await ws.send(_request("next", "/x", "b"))
        [reply] = await _replies(ws, 1)
        await _finish(ws)
    assert reply["header"]["requestId"] == "next"


async def test_prefetch_bounds_the_requests_in_flight(probed: Flow) -> None:
    frames = [json.dumps({"requestId": f"p{i}", "data": [], "parameters": {"sleep": 0.05}}) for i in range(12)]
    async with connect(_url(probed)) as ws:
        replies = await _stream_many(ws, frames, END)
    seen = [r["parameters"]["__results__"]["probe/rep-0"]["in_flight"] for r in replies]
    assert sorted(r["header"]["requestId"] for r in replies) == sorted(f"p{i}" for i in range(12))
    assert 1 <= max(seen) <= 3


async def test_a_stopping_gateway_answers_what_it_took_then_closes_1013(probed: Flow) -> None:
    sent = {f"s{i}" for i in range(6)}
    async with connect(_url(probed)) as ws:
        for request_id in sorted(sent):
            await ws.send(json.dumps({"requestId": request_id, "data": [], "parameters": {"sleep": 0.3}}))
        restarting = asyncio.create_task(asyncio.to_thread(probed.restart_gateway))
        frames: list[str | bytes] = []
        with pytest.raises(ConnectionClosed) as closed:
            await _read_until_closed(ws, frames)
        await restarting
    answered = [json.loads(frame)["header"]["requestId"] for frame in frames]
    assert closed.value.rcvd is not None
    code, reason = closed.value.rcvd.code, closed.value.rcvd.reason
    assert (code, grpc_code_of_close(code).name) == (1013, "UNAVAILABLE")
    assert reason.startswith("GatewayUnavailable: the gateway is stopping")
    assert len(answered) == len(set(answered))
    assert set(answered) <= sent
    async with connect(_url(probed)) as ws:  # the new gateway, same port
        await ws.send(json.dumps({"requestId": "again", "data": []}))
        [reply] = await _replies(ws, 1)
        await _finish(ws)
    assert reply["header"]["requestId"] == "again"


async def test_handshake_headers_reach_executors_as_metadata(probed: Flow) -> None:
    async with connect(_url(probed), additional_headers={"authorization": "Bearer t0ken"}) as ws:
        await ws.send(json.dumps({"requestId": "m", "execEndpoint": "/metadata", "data": []}))
        [reply] = await _replies(ws, 1)
        await _finish(ws)
    metadata = reply["parameters"]["__results__"]["toolbox/rep-0"]["metadata"]
    assert metadata["authorization"] == "Bearer t0ken"
    assert not any(key.startswith("sec-websocket") for key in metadata)


def test_the_javascript_example_of_the_docs(flow: Flow) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "websocket.md").read_text()
    snippet = docs.split("```js\n", 1)[1].split("```", 1)[0]
    script = snippet.replace("ws://localhost:12347/", _url(flow)).replace('"/greet"', '"/x"')
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True, timeout=30)
    flags = ["--experimental-websocket"] if int(version.stdout.strip().lstrip("v").split(".")[0]) < 22 else []
    run = subprocess.run(["node", *flags, "-e", script], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert sorted(lines[:2]) == ["a [ 'world[first]' ]", "b [ 'moon[first]' ]"]  # replies come as they finish
    assert lines[2:] == ["closed 1000 every request is answered"]


def test_one_gateway_serves_grpc_http_and_websocket(flow: Flow) -> None:
    assert set(flow.ports) == {"grpc", "http", "websocket"}
    assert len(set(flow.ports.values())) == 3
    assert flow.port == flow.ports["grpc"]
    with Client(host="127.0.0.1", port=flow.ports["grpc"]) as client:
        assert client.post("/x", [Document(text="g")], return_type=DocList[Document])[0].text == "g[first]"
    http = httpx.post(
        f"http://127.0.0.1:{flow.ports['http']}/post", json={"data": [{"text": "h"}], "execEndpoint": "/x"}, timeout=30
    )
    assert http.json()["data"][0]["text"] == "h[first]"
    live = httpx.get(f"http://127.0.0.1:{flow.ports['websocket']}/", timeout=30)
    assert (live.status_code, live.json()) == (200, {})

    async def over_websocket() -> str:
        async with connect(_url(flow)) as ws:
            await ws.send(_request("w", "/x", "w"))
            [reply] = await _replies(ws, 1)
            await _finish(ws)
        return str(reply["data"][0]["text"])

    assert asyncio.run(over_websocket()) == "w[first]"


def test_flow_yaml_serves_websocket(tmp_path: Path) -> None:
    yml = tmp_path / "flow.yml"
    yml.write_text(
        "jtype: Flow\n"
        "with:\n  host: 127.0.0.1\n  protocol: [grpc, websocket]\n  port: [0, 0]\n"
        f"executors:\n  - name: first\n    uses: Appender\n    py_modules: [{EXECUTORS}]\n"
    )
    config, _ = load_flow_yaml(yml)
    assert config.protocols == ("grpc", "websocket")

    async def over_websocket(port: int) -> list[str]:
        async with connect(f"ws://127.0.0.1:{port}/", subprotocols=BYTES) as ws:
            await ws.send(_data_request("y", "/x", "yaml"))
            [reply] = await _replies(ws, 1)
            await _finish(ws, b"")
        return _texts(reply)

    with Flow.load_config(yml) as started:
        assert set(started.ports) == {"grpc", "websocket"}
        assert asyncio.run(over_websocket(started.ports["websocket"])) == ["yaml[first]"]


def test_unknown_protocol_lists_websocket() -> None:
    with pytest.raises(ValueError, match="'websocket'"):
        Flow(protocol="smoke-signals")


def test_banner_shows_ws_schemes(capsys: pytest.CaptureFixture[str]) -> None:
    print_ready_banner("Flow", "grpc", "0.0.0.0", 1234, {"websocket": 5678})
    assert "ws://127.0.0.1:5678" in capsys.readouterr().err
    print_ready_banner("Flow", "grpc", "0.0.0.0", 1234, {"websocket": 5678}, tls=True)
    assert "wss://127.0.0.1:5678" in capsys.readouterr().err


def test_close_codes_round_trip_and_reasons_fit_a_close_frame() -> None:
    assert close_code_of_code(GatewayUnavailable("x").grpc_code) == 1013
    assert grpc_code_of_close(1012).name == "UNAVAILABLE"  # uvicorn's own 'service restart'
    assert grpc_code_of_close(4004).name == "DEADLINE_EXCEEDED"
    long = close_reason(GatewayUnavailable("é" * 200))
    assert long.startswith("GatewayUnavailable: é")
    assert len(long.encode()) <= 123


# --- TLS and origins --------------------------------------------------------------------------------------


def _trusting(pki: Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=pki.ca_pem.decode())


async def test_wss_with_the_gateway_certificate(secure: Flow, pki: Pki) -> None:
    assert secure.ports == {"websocket": secure.port}
    async with connect(f"wss://localhost:{secure.port}/", ssl=_trusting(pki), subprotocols=BYTES) as ws:
        await ws.send(_data_request("tls", "/x", "secret"))
        [reply] = await _replies(ws, 1)
        await _finish(ws, b"")
    assert _texts(reply) == ["secret[first]"]


async def test_wss_without_the_ca_is_not_trusted(secure: Flow) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        async with connect(f"wss://localhost:{secure.port}/"):
            pytest.fail("an untrusted certificate was accepted")


async def test_plain_ws_to_a_tls_port_fails(secure: Flow) -> None:
    with pytest.raises(InvalidMessage, match="did not receive a valid HTTP response"):
        async with connect(f"ws://127.0.0.1:{secure.port}/", open_timeout=10):
            pytest.fail("a plaintext handshake was accepted")


async def test_browser_origins_outside_the_cors_list_are_refused(secure: Flow, pki: Pki) -> None:
    url = f"wss://localhost:{secure.port}/"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, ssl=_trusting(pki), origin=Origin("https://evil.example")):
            pytest.fail("a foreign origin was accepted")
    assert refused.value.response.status_code == 403
    async with connect(url, ssl=_trusting(pki), origin=Origin(ALLOWED)) as ws:
        await _finish(ws)
