"""A client's single-request gRPC posts share one Stream call to the gateway (``shared_call``): an
``AsyncClient``'s on its event loop, a sync ``Client``'s on gRPC's sync API, from any of its threads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
from executors import Appender, Recorder, TextDoc, Toolbox

from docwire import AsyncClient, Client, DocList, Flow, MessageTooLarge
from docwire_client import shared_call
from docwire_client.grpc_transport import GrpcTransport

#: The gateway's message limit: a request over it is still small enough to go on the shared call.
LIMIT = 16 * 1024


@pytest.fixture(scope="module")
def flow() -> Iterator[Flow]:
    with (
        Flow(host="127.0.0.1", max_message_size=LIMIT)
        .add(uses=Appender, name="appender")
        .add(uses=Recorder, name="recorder")
        .add(uses=Toolbox, name="toolbox") as flow
    ):
        yield flow


def shared_call_of(client: AsyncClient) -> object:
    """The Stream call the client's single posts are on now (None before the first)."""
    transport = client._transport
    assert isinstance(transport, GrpcTransport)
    return transport._shared._open


def blocking_call_of(client: Client) -> object:
    """The Stream call the sync client's single posts are on now (None before the first)."""
    transport = client._async._transport
    assert isinstance(transport, GrpcTransport)
    shared = transport._blocking._shared
    return None if shared is None else shared._open


async def post_text(client: AsyncClient, text: str, **kwargs: object) -> list[str]:
    texts: list[str] = []
    async for docs in client.post("/", TextDoc(text=text), return_type=DocList[TextDoc], **kwargs):  # type: ignore[call-overload]
        texts.extend(docs.text)
    return texts


async def test_concurrent_single_posts_share_one_call_and_each_gets_its_own_reply(flow: Flow) -> None:
    async with AsyncClient(port=flow.port) as client:
        assert await post_text(client, "first") == ["first[appender]"]
        shared = shared_call_of(client)
        assert shared is not None
        replies = await asyncio.gather(*(post_text(client, f"shared-{i}") for i in range(40)))
        assert replies == [[f"shared-{i}[appender]"] for i in range(40)]
        assert shared_call_of(client) is shared


async def test_a_cancelled_post_leaves_the_shared_call_serving_the_others(flow: Flow) -> None:
    async with AsyncClient(port=flow.port) as client:
        assert await post_text(client, "before") == ["before[appender]"]
        shared = shared_call_of(client)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(post_text(client, "slow", parameters={"sleep": 1.0}), 0.2)
        assert await post_text(client, "after") == ["after[appender]"]
        assert shared_call_of(client) is shared


async def test_a_request_over_the_gateway_limit_fails_alone(flow: Flow) -> None:
    """The oversized request ends the shared call for every request on it; each goes again on a call of
    its own, where only the oversized one fails."""
    async with AsyncClient(port=flow.port) as client:
        big, small = await asyncio.gather(
            post_text(client, "x" * (2 * LIMIT)), post_text(client, "small"), return_exceptions=True
        )
        assert isinstance(big, MessageTooLarge)
        assert small == ["small[appender]"]
        assert await post_text(client, "later") == ["later[appender]"]


async def test_a_post_with_metadata_takes_a_call_of_its_own(flow: Flow) -> None:
    async with AsyncClient(port=flow.port) as client:
        posted = client.post("/metadata", TextDoc(text="m"), metadata={"x-team": "a"}, return_responses=True)
        replies = [reply async for reply in posted]
        assert replies[0].parameters["__results__"]["toolbox/rep-0"]["metadata"]["x-team"] == "a"
        assert shared_call_of(client) is None


async def test_a_gateway_restarted_between_posts_is_called_again_on_a_new_call(flow: Flow) -> None:
    async with AsyncClient(port=flow.port) as client:
        assert await post_text(client, "before-restart") == ["before-restart[appender]"]
        shared = shared_call_of(client)
        await asyncio.to_thread(flow.restart_gateway)
        assert await post_text(client, "after-restart") == ["after-restart[appender]"]
        assert shared_call_of(client) is not shared


def test_threads_of_a_sync_client_share_one_call_and_each_gets_its_own_reply(flow: Flow) -> None:
    with Client(port=flow.port) as client:
        assert list(client.post("/", TextDoc(text="first")).text) == ["first[appender]"]
        shared = blocking_call_of(client)
        assert shared is not None

        def work(t: int) -> list[list[str]]:
            return [list(client.post("/", TextDoc(text=f"t{t}-{k}")).text) for k in range(10)]

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(work, range(8), timeout=60))
        assert results == [[[f"t{t}-{k}[appender]"] for k in range(10)] for t in range(8)]
        assert blocking_call_of(client) is shared


def test_a_sync_request_over_the_gateway_limit_fails_alone(flow: Flow) -> None:
    """The small request is on the shared call (held by the recorder) when the oversized one ends that call: it
    goes again on a call of its own and is answered; only the oversized one fails."""
    with Client(port=flow.port) as client:

        def post(text: str, parameters: dict[str, float] | None = None) -> list[str]:
            return list(client.post("/", TextDoc(text=text), parameters=parameters, return_type=DocList[TextDoc]).text)

        assert post("first") == ["first[appender]"]
        shared = blocking_call_of(client)
        with ThreadPoolExecutor(max_workers=2) as pool:
            small = pool.submit(post, "small", {"sleep": 1.0})
            time.sleep(0.3)  # written on the shared call, waiting at the recorder
            big = pool.submit(post, "x" * (2 * LIMIT))
            with pytest.raises(MessageTooLarge):
                big.result(timeout=30)
            assert small.result(timeout=30) == ["small[appender]"]
        assert post("later") == ["later[appender]"]
        assert blocking_call_of(client) is not shared  # the oversized request ended it: "later" took a new one


def test_a_sync_client_calls_a_restarted_gateway_on_a_new_call(flow: Flow) -> None:
    with Client(port=flow.port) as client:
        assert list(client.post("/", TextDoc(text="before-restart")).text) == ["before-restart[appender]"]
        shared = blocking_call_of(client)
        flow.restart_gateway()
        assert list(client.post("/", TextDoc(text="after-restart")).text) == ["after-restart[appender]"]
        assert blocking_call_of(client) is not shared


async def test_a_shared_call_makes_way_for_a_new_one_after_its_quota_of_posts(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy balancing calls across gateways gets to place a client's single posts again now and then: after
    ``MAX_POSTS_PER_CALL`` posts a call ends once its replies are in, and later posts take a new one."""
    monkeypatch.setattr(shared_call, "MAX_POSTS_PER_CALL", 3)
    async with AsyncClient(port=flow.port) as client:
        seen = []
        for i in range(4):
            replies = await asyncio.gather(*(post_text(client, f"quota-{i}-{k}") for k in range(5)))
            assert replies == [[f"quota-{i}-{k}[appender]"] for k in range(5)]
            seen.append(shared_call_of(client))
        assert len({id(call) for call in seen}) == 4
        retired = cast(Any, seen[0])
        await asyncio.wait_for(retired.reader, 10)  # ended by the gateway once its replies were sent
        assert retired.waiting == {}


def test_a_sync_shared_call_makes_way_for_a_new_one_after_its_quota_of_posts(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shared_call, "MAX_POSTS_PER_CALL", 3)
    with Client(port=flow.port) as client:

        def work(t: int) -> list[list[str]]:
            return [list(client.post("/", TextDoc(text=f"q{t}-{k}")).text) for k in range(6)]

        calls = []  # kept, so that no two of them share an id
        for _ in range(3):
            with ThreadPoolExecutor(max_workers=4) as pool:
                results = list(pool.map(work, range(4), timeout=60))
            assert results == [[[f"q{t}-{k}[appender]"] for k in range(6)] for t in range(4)]
            calls.append(blocking_call_of(client))
        assert len({id(call) for call in calls}) == 3
