"""The gateway sends a client stream's requests to each replica over one ProcessStream call, and the Posts
that carry no metadata over one the gateway keeps per replica.

These tests drive the gateway's own ReplicaPool and UpstreamStreams, through ``forward`` (which
picks one of the two per request), against real executor processes, so they can see which path
a request took; the Flow-level behaviour (every
client test streams many requests) is covered by the client tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest
from executors import Faulty, Grower, Lagger, Strict, TextDoc, Toolbox
from google.protobuf import json_format

from docwire import Flow
from docwire.gateway.context import LocalContext
from docwire.gateway.forwarding import forward
from docwire.gateway.replica_streams import UpstreamStreams
from docwire.gateway.router import ExecutorNode
from docwire.gateway.service import GatewayServicer
from docwire.gateway.shards import ExecutorPools
from docwire.gateway.splice import Reply, as_bytes
from docwire.gateway.upstream import ReplicaPool
from docwire_client.inputs import RequestSpec, build_request
from docwire_contract.codec import decode_docs
from docwire_contract.errors import DocumentSchemaError, ExecutorUnavailable, MessageTooLarge, RequestTimeout
from docwire_contract.v1 import request_pb2

MAX_MESSAGE = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def executors() -> Iterator[Flow]:
    flow = (
        Flow(host="127.0.0.1")
        .add(uses=Lagger, name="lagger")
        .add(uses=Strict, name="strict")
        .add(uses=Toolbox, name="toolbox")
    )
    with flow:
        yield flow


@contextlib.asynccontextmanager
async def upstream(
    flow: Flow, name: str, max_message: int = MAX_MESSAGE
) -> AsyncIterator[tuple[ReplicaPool, UpstreamStreams]]:
    """The gateway's pool of executor ``name`` and the streams of one client stream, closed after."""
    pool, streams = ReplicaPool(ExecutorNode(name, flow.executor_addresses[name]), max_message), UpstreamStreams()
    try:
        yield pool, streams
    finally:
        streams.cancel()
        await pool.close()


def request(endpoint: str, texts: Sequence[str], timeout_ms: int | None = None) -> tuple[str, bytes]:
    return build_request(RequestSpec(endpoint, timeout_ms=timeout_ms), [TextDoc(text=t) for t in texts])


def parsed(reply: Reply) -> request_pb2.DataRequest:
    return request_pb2.DataRequest.FromString(as_bytes(reply))


def texts_of(reply: Reply) -> list[str]:
    return [d.text for d in decode_docs(parsed(reply).data.docs_bytes, TextDoc)]


def test_requests_after_the_first_share_one_stream_and_each_gets_its_own_reply(executors: Flow) -> None:
    async def run() -> None:
        async with upstream(executors, "lagger") as (pool, streams):
            assert texts_of(await forward(pool, request("/", ["0"])[1], None, (), streams)) == ["0!"]
            assert streams.opened == 0  # the first request to a replica goes unary
            # Later requests finish in the opposite order to the one they were sent in.
            lags = [f"{0.02 * (9 - i):.2f}" for i in range(10)]
            sent = [request("/", [lag, f"doc {i}"]) for i, lag in enumerate(lags)]
            replies = await asyncio.gather(*(forward(pool, raw, None, (), streams) for _, raw in sent))
            assert streams.opened == 1
            for (request_id, _), lag, reply, i in zip(sent, lags, replies, range(10), strict=True):
                assert parsed(reply).header.request_id == request_id
                assert texts_of(reply) == [f"{lag}!", f"doc {i}!"]
                assert [r.executor for r in parsed(reply).routes] == ["lagger"]
            await streams.close()
            assert streams.opened == 0

    asyncio.run(run())


def test_a_failing_request_fails_as_its_unary_call_does_and_the_stream_goes_on(executors: Flow) -> None:
    async def failure(pool: ReplicaPool, streams: UpstreamStreams) -> str:
        with pytest.raises(DocumentSchemaError) as caught:
            await forward(pool, request("/strict", ["no count"])[1], None, (), streams)
        return str(caught.value)

    async def run() -> None:
        async with upstream(executors, "strict") as (pool, streams):
            unary = await failure(pool, streams)
            streamed = await failure(pool, streams)
            assert streams.opened == 1
            assert streamed == unary
            assert "executor 'strict' at 127.0.0.1:" in streamed
            assert "count" in streamed
            # The stream still serves the next request: a wrong endpoint's pass-through.
            assert texts_of(await forward(pool, request("/other", ["kept"])[1], None, (), streams)) == ["kept"]
            assert streams.opened == 1

    asyncio.run(run())


def test_a_request_timing_out_on_a_stream_leaves_it_serving(executors: Flow) -> None:
    async def run() -> None:
        async with upstream(executors, "lagger") as (pool, streams):
            await forward(pool, request("/", ["0"])[1], None, (), streams)
            with pytest.raises(RequestTimeout, match=r"executor 'lagger' at 127\.0\.0\.1:\d+ did not answer"):
                await forward(pool, request("/", ["0.5"])[1], 0.05, (), streams)
            assert texts_of(await forward(pool, request("/", ["0"])[1], 5.0, (), streams)) == ["0!"]
            assert streams.opened == 1

    asyncio.run(run())


def test_the_client_metadata_reaches_the_executor_over_the_stream(executors: Flow) -> None:
    metadata = (("authorization", "Bearer streamed"),)

    async def run() -> None:
        async with upstream(executors, "toolbox") as (pool, streams):
            for _ in range(2):  # unary, then over the stream
                reply = parsed(await forward(pool, request("/metadata", [])[1], None, metadata, streams))
                results = json_format.MessageToDict(reply.parameters)["__results__"]
                assert results["toolbox/rep-0"]["metadata"]["authorization"] == "Bearer streamed"
            assert streams.opened == 1

    asyncio.run(run())


def test_a_replica_dying_fails_the_requests_on_its_stream_and_later_ones_go_unary() -> None:
    async def run(flow: Flow) -> None:
        where = r"executor 'faulty' at 127\.0\.0\.1:\d+"
        async with upstream(flow, "faulty") as (pool, streams):
            for _ in range(2):
                assert texts_of(await forward(pool, request("/ok", ["x"])[1], None, (), streams)) == ["ok"]
            assert streams.opened == 1
            with pytest.raises(ExecutorUnavailable, match=where):
                await forward(pool, request("/die", ["x"])[1], None, (), streams)
            with pytest.raises(ExecutorUnavailable, match=where):
                await forward(pool, request("/ok", ["x"])[1], 5.0, (), streams)
            assert streams.opened == 0

    with Flow(host="127.0.0.1").add(uses=Faulty, name="faulty") as flow:
        asyncio.run(run(flow))


def test_a_reply_over_the_size_limit_fails_alone_and_the_stream_goes_on() -> None:
    limit = 64 * 1024

    async def too_large(pool: ReplicaPool, streams: UpstreamStreams) -> str:
        with pytest.raises(MessageTooLarge) as caught:
            await forward(pool, request("/grow", [str(limit)])[1], None, (), streams)
        return str(caught.value)

    async def run(flow: Flow) -> None:
        async with upstream(flow, "grower", max_message=limit) as (pool, streams):
            unary = await too_large(pool, streams)
            streamed = await too_large(pool, streams)
            assert streams.opened == 1
            assert streamed == unary
            assert f"vs. {limit})" in streamed
            assert texts_of(await forward(pool, request("/grow", ["3"])[1], None, (), streams)) == ["xxx"]
            assert streams.opened == 1

    with Flow(host="127.0.0.1", max_message_size=limit).add(uses=Grower, name="grower") as flow:
        asyncio.run(run(flow))


def _without_times(reply: Reply) -> request_pb2.DataRequest:
    message = parsed(reply)
    for route in message.routes:
        route.ClearField("start_time")
        route.ClearField("end_time")
    return message


def _as_doc_list_message(raw: bytes) -> bytes:
    """The same request with its documents as a ``DocList`` message instead of ``docs_bytes``."""
    message = request_pb2.DataRequest.FromString(raw)
    message.data.docs.ParseFromString(message.data.docs_bytes)
    return message.SerializeToString()


@pytest.mark.parametrize("form", ["docs_bytes", "doc-list-message"])
@pytest.mark.parametrize(("endpoint", "parameters"), [("/", None), ("/index", None), ("/metadata", {"k": 1})])
def test_a_stream_answers_what_a_unary_call_answers(
    executors: Flow, form: str, endpoint: str, parameters: dict[str, int] | None
) -> None:
    """The executor reads a stream's calls around their documents (``docs_bytes``) or whole (anything else):
    the same reply either way, byte for byte but the route's times."""
    _, raw = build_request(RequestSpec(endpoint, parameters=parameters), [TextDoc(text=f"t{i}") for i in range(9)])
    if form != "docs_bytes":
        raw = _as_doc_list_message(raw)

    async def run() -> None:
        async with upstream(executors, "toolbox") as (pool, streams):
            unary = await forward(pool, raw, None, (), streams)
            streamed = await forward(pool, raw, None, (), streams)
            assert streams.opened == 1
            assert _without_times(streamed).SerializeToString() == _without_times(unary).SerializeToString()
            assert [d.text for d in _docs_of(streamed)] == [f"t{i}" for i in range(9)]

    asyncio.run(run())


def _docs_of(reply: Reply) -> list[TextDoc]:
    data = parsed(reply).data
    raw = data.docs.SerializeToString() if data.WhichOneof("documents") == "docs" else data.docs_bytes
    return list(decode_docs(raw, TextDoc))


@contextlib.asynccontextmanager
async def gateway(flow: Flow, name: str) -> AsyncIterator[GatewayServicer]:
    """A gateway core serving executor ``name`` of ``flow`` (endpoints discovered), closed after."""
    node = ExecutorNode(name, flow.executor_addresses[name])
    core = GatewayServicer([ExecutorPools(node, MAX_MESSAGE)], prefetch=100, versions=dict)
    try:
        await core.discover(timeout=30)
        yield core
    finally:
        await core.close()


def test_posts_without_metadata_share_one_stream_and_posts_with_it_go_unary(executors: Flow) -> None:
    metadata = (("authorization", "Bearer unary"),)

    async def run() -> None:
        async with gateway(executors, "toolbox") as core:
            for _ in range(2):  # metadata goes on with each call: never over the shared stream
                reply = parsed(await core.post(request("/metadata", [])[1], LocalContext(metadata)))
                results = json_format.MessageToDict(reply.parameters)["__results__"]
                assert results["toolbox/rep-0"]["metadata"]["authorization"] == "Bearer unary"
            assert core.post_streams.opened == 0
            for i in range(3):  # the first goes unary, then over the stream
                reply = parsed(await core.post(request("/", [f"post {i}"])[1], LocalContext()))  # kept as they are
                assert [d.text for d in decode_docs(reply.data.docs_bytes, TextDoc)] == [f"post {i}"]
                assert [r.executor for r in reply.routes] == ["gateway", "toolbox"]
            assert core.post_streams.opened == 1
        assert core.post_streams.opened == 0  # closed with the gateway

    asyncio.run(run())


def test_cancelled_posts_leave_the_shared_stream_serving_the_others(executors: Flow) -> None:
    """Posts cancelled at any point (their clients gone) leave the stream they share serving the others
    (a cancellation in the very write: ``tests/unit/test_replica_stream_writes.py``)."""

    async def run() -> None:
        async with gateway(executors, "lagger") as core:
            await core.post(request("/", ["0"])[1], LocalContext())  # unary: the stream opens with the next
            posts = [
                asyncio.create_task(core.post(request("/", ["0.01", f"post {i}"])[1], LocalContext()))
                for i in range(16)
            ]
            for i, post in enumerate(posts):
                if i % 2:
                    for _ in range(i % 4):  # cancelled after a few steps: in its write, or waiting for its reply
                        await asyncio.sleep(0)
                    post.cancel()
            outcomes = await asyncio.wait_for(asyncio.gather(*posts, return_exceptions=True), 60)
            for i, outcome in enumerate(outcomes):
                if i % 2 == 0:
                    assert isinstance(outcome, bytes), outcome
                    assert texts_of(outcome) == ["0.01!", f"post {i}!"]
            assert core.post_streams.opened == 1
            assert texts_of(await core.post(request("/", ["0", "after"])[1], LocalContext())) == ["0!", "after!"]
            assert core.post_streams.opened == 1

    asyncio.run(run())
