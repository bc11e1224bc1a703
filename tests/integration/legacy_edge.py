"""A loopback stand-in for the gateway's ``jina.JinaRPC/Call`` handler, for clip_client's tests.

It serves ``/jina.JinaRPC/Call`` and relays each request to a real docwire gateway's
``GatewayService/Stream``, translating docarray v1 documents with ``docwire_contract.legacy``
on the way in and back on the way out, as the gateway's ``jina.*`` handlers are to do (branch
``jina`` adds those service names). Once they serve clip_client, point the tests at the gateway.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from types import TracebackType

import grpc

from docwire_contract.legacy import is_legacy_request, reply_to_legacy, request_from_legacy
from docwire_contract.methods import GatewayMethods

CALL = "/jina.JinaRPC/Call"


class LegacyEdge:
    """``with LegacyEdge(gateway_port) as edge:`` serves clip_client on ``edge.port`` (127.0.0.1)."""

    def __init__(self, gateway_port: int) -> None:
        self._target = f"127.0.0.1:{gateway_port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="legacy-edge", daemon=True)
        self._server: grpc.aio.Server | None = None
        self.port = 0

    def __enter__(self) -> LegacyEdge:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(None), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    async def _start(self) -> int:
        channel = grpc.aio.insecure_channel(self._target)
        relay: grpc.aio.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(GatewayMethods.STREAM)

        async def call(
            requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[bytes, bytes]
        ) -> AsyncIterator[bytes]:
            legacy = False

            async def translated() -> AsyncIterator[bytes]:
                nonlocal legacy
                async for request in requests:
                    legacy = legacy or is_legacy_request(request)
                    yield request_from_legacy(request)

            # clip_client's own metadata (__prefetch__, authorization) goes on; grpc sets user-agent itself.
            metadata = [(key, value) for key, value in context.invocation_metadata() or () if key != "user-agent"]
            async for reply in relay(translated(), metadata=metadata):
                yield reply_to_legacy(reply) if legacy else reply

        handler = grpc.method_handlers_generic_handler(
            "jina.JinaRPC", {"Call": grpc.stream_stream_rpc_method_handler(call)}
        )
        self._server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        self._server.add_generic_rpc_handlers((handler,))
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return port
