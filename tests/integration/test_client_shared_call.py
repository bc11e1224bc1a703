"""An AsyncClient's single-request gRPC posts share one Stream call to the gateway (``shared_call``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from executors import Appender, Recorder, TextDoc, Toolbox

from docwire import AsyncClient, DocList, Flow, MessageTooLarge
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
