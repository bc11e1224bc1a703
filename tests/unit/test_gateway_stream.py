"""The core's Stream: replies as they finish, or in the order the requests came (``in_order``), and a
per-stream ``prefetch`` (no sockets: ``handle`` is replaced by requests that finish when the test says)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from docwire.gateway.context import LocalContext
from docwire.gateway.replica_streams import UpstreamStreams
from docwire.gateway.service import GatewayServicer


class _HeldCore(GatewayServicer):
    """Each request (its bytes name it) is answered with its own bytes once the test releases it."""

    def __init__(self, names: Sequence[bytes], prefetch: int = 10) -> None:
        super().__init__([], prefetch, dict)
        self.release = {name: asyncio.Event() for name in names}
        self.started: list[bytes] = []
        self.all_started = asyncio.Event()

    async def handle(
        self,
        raw: bytes,
        *,
        errors_in_reply: bool = False,
        metadata: Sequence[tuple[str, str]] = (),
        streams: UpstreamStreams | None = None,
    ) -> bytes:
        self.started.append(raw)
        if len(self.started) == len(self.release):
            self.all_started.set()
        await self.release[raw].wait()
        return raw


async def _requests(names: Sequence[bytes]) -> AsyncIterator[bytes]:
    for name in names:
        yield name


async def _collect(core: _HeldCore, names: Sequence[bytes], order: Sequence[bytes], **options: object) -> list[bytes]:
    """Runs a stream of ``names`` and, once all are in flight, lets them finish in ``order`` (asyncio wakes
    the waiting requests in the order their events are set)."""
    replies = core.stream(_requests(names), LocalContext(), **options)  # type: ignore[arg-type]
    received: list[bytes] = []
    collecting = asyncio.create_task(_drain(replies, received))
    await asyncio.wait_for(core.all_started.wait(), _BOUND)
    for name in order:
        core.release[name].set()
    await asyncio.wait_for(collecting, _BOUND)
    return received


async def _drain(replies: AsyncIterator[bytes], into: list[bytes]) -> None:
    async for reply in replies:
        into.append(reply)


NAMES = (b"a", b"b", b"c")
#: Seconds a step may take before the test fails instead of hanging (each takes microseconds).
_BOUND = 10.0


async def test_replies_come_as_they_finish() -> None:
    core = _HeldCore(NAMES)
    assert await _collect(core, NAMES, [b"c", b"b", b"a"]) == [b"c", b"b", b"a"]


async def test_in_order_holds_replies_back_until_their_turn() -> None:
    core = _HeldCore(NAMES)
    assert await _collect(core, NAMES, [b"c", b"b", b"a"], in_order=True) == [b"a", b"b", b"c"]


async def test_a_stream_s_prefetch_overrides_the_gateway_s() -> None:
    core = _HeldCore(NAMES, prefetch=1)
    replies = core.stream(_requests(NAMES), LocalContext(), prefetch=3)
    received: list[bytes] = []
    collecting = asyncio.create_task(_drain(replies, received))
    # all three in flight at once: the gateway's prefetch of 1 would hold two back
    await asyncio.wait_for(core.all_started.wait(), _BOUND)
    for name in NAMES:
        core.release[name].set()
    await asyncio.wait_for(collecting, _BOUND)
    assert sorted(received) == list(NAMES)
