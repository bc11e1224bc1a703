"""The sync ``Client``: the asyncio client driven on one private event loop for its whole life.

One loop and one channel per client, not one per call: starting a loop and a
channel per call costs more CPU than the round trip itself. The loop runs in a
daemon thread, so the client also works inside programs that run their own loop,
and calls from several threads are safe: they are all served by that one loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

from docarray import BaseDoc

from docwire.v1 import request_pb2
from docwire_client.aio import DEFAULT_MAX_MESSAGE_BYTES, AsyncClient
from docwire_client.doc_types import doclist_of, return_doc_class
from docwire_client.inputs import Inputs
from docwire_client.response import Response

__all__ = ["Client"]

R = TypeVar("R")


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # noqa: PLC0415  (optional speed-up)
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = _new_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="docwire-client", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a sync Client cannot be called from its own callbacks; use the AsyncClient there")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def iterate(self, agen: AsyncIterator[R]) -> Iterator[R]:
        try:
            while True:
                try:
                    yield self.run(agen.__anext__())  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
        finally:
            self.run(agen.aclose())  # type: ignore[attr-defined]

    def close(self, wait: bool = True) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if wait:
            self._thread.join(timeout=10)
            self.loop.close()


class Client:
    """Talks to a docwire gateway; ``Client(..., asyncio=True)`` gives the AsyncClient.

    Args:
        host: a host name, ``host:port``, or a URI such as ``grpc://host:port`` (``grpcs://`` for TLS).
        port: the port, unless the host gives it (default 80, or 443 with TLS).
        protocol: ``"grpc"``, unless the URI gives it.
        tls: use TLS, unless the URI's scheme says.
        asyncio: return an AsyncClient instead.
        root_certificates: PEM CA certificates to verify the server with.
        max_message_size: the largest message, in bytes, sent or received.

    Raises:
        ValueError: a setting is given twice (in the URI and as a keyword) or is invalid.
    """

    def __new__(cls, *args: Any, asyncio: bool = False, **kwargs: Any) -> Any:
        # ``Client(..., asyncio=True)`` is the seeds' spelling; typed code can use AsyncClient directly.
        if asyncio:
            return AsyncClient(*args, **kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        protocol: str | None = None,
        tls: bool | None = None,
        *,
        asyncio: bool = False,
        root_certificates: bytes | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._async = AsyncClient(
            host, port, protocol, tls, root_certificates=root_certificates, max_message_size=max_message_size
        )
        self._loop: _LoopThread | None = None
        self._lock = threading.Lock()

    @property
    def target(self) -> Any:
        """Where this client connects (host, port, protocol, tls)."""
        return self._async.target

    def _runner(self) -> _LoopThread:
        with self._lock:
            if self._loop is None:
                self._loop = _LoopThread()
            return self._loop

    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        parameters: Mapping[str, Any] | None = None,
        target_executor: str | None = None,
        request_size: int = 100,
        return_responses: bool = False,
        return_type: Any = None,
        results_in_order: bool = False,
        prefetch: int = 100,
        timeout: float | None = None,
    ) -> Any:
        """Sends documents to endpoint ``on`` and returns every reply's documents as one DocList.

        Arguments are those of ``AsyncClient.post``. With ``return_responses=True``
        the list of ``Response`` objects is returned instead.

        Raises:
            ExecutorError: an executor raised (the error names it, with its traceback).
            DocwireError: the call failed.
        """
        kwargs: dict[str, Any] = {
            "parameters": parameters,
            "target_executor": target_executor,
            "request_size": request_size,
            "return_type": return_type,
            "results_in_order": results_in_order,
            "prefetch": prefetch,
            "timeout": timeout,
        }
        return self._runner().run(self._collect(on, inputs, return_responses, kwargs))

    async def _collect(self, on: str, inputs: Inputs, return_responses: bool, kwargs: dict[str, Any]) -> Any:
        responses: list[Response[Any]] = []
        collected = doclist_of(return_doc_class(kwargs["return_type"]))
        async for response in self._async.responses(on, inputs, **kwargs):
            if response.is_error:
                raise response.error()
            if return_responses:
                responses.append(response)
            else:  # decode now, while later replies are still on their way
                collected.extend(response.docs)
        return responses if return_responses else collected

    def stream_doc(
        self,
        on: str,
        inputs: BaseDoc,
        *,
        parameters: Mapping[str, Any] | None = None,
        return_type: Any = None,
        timeout: float | None = None,
    ) -> Iterator[BaseDoc]:
        """Sends one document to a generator endpoint and yields each document as it is produced."""
        agen = self._async.stream_doc(on, inputs, parameters=parameters, return_type=return_type, timeout=timeout)
        return self._runner().iterate(agen)

    def dry_run(self, timeout: float = 5.0) -> request_pb2.Status:
        """The Status of a dry run through the whole Flow."""
        return self._runner().run(self._async.dry_run(timeout))

    def is_flow_ready(self, timeout: float = 5.0) -> bool:
        """Whether the gateway and every executor behind it answer."""
        return self._runner().run(self._async.is_flow_ready(timeout))

    def endpoints(self, timeout: float = 5.0) -> dict[str, Any]:
        """The Flow's endpoints with their JSON schemas."""
        return self._runner().run(self._async.endpoints(timeout))

    def close(self) -> None:
        """Closes the channel and stops the client's event loop."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.run(self._async.close())
            loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Garbage collection or interpreter exit: only ask the loop to stop.
        loop = getattr(self, "_loop", None)
        if loop is not None:
            loop.close(wait=False)
