"""The sync ``Client``: the asyncio client driven on one private event loop.

Every sync Client of a process shares one event loop, running in a daemon thread;
each client keeps one channel for its life. Starting a loop and a channel per call
would cost more CPU than the round trip itself. Because gRPC channels cannot move
between event loops or threads (grpc/grpc#25364), this is also what makes a sync
Client safe to share between threads: each thread's calls are handed to that one
loop, and run there concurrently. gRPC does not survive ``fork()``: a client used
in a process forked after gRPC was used raises, rather than hang.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Coroutine, Generator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from docarray import BaseDoc

from docwire_client.aio import AsyncClient, result_docs
from docwire_client.callbacks import Callback
from docwire_client.inputs import Inputs
from docwire_client.options import Metadata, PostKwargs, PostOptions
from docwire_client.response import Response
from docwire_client.target import Target
from docwire_contract.conventions import DEFAULT_MAX_MESSAGE_BYTES
from docwire_contract.doc_types import doclist_of, return_doc_class
from docwire_contract.v1 import request_pb2

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Client"]

R = TypeVar("R")

#: How often a caller waiting on the loop checks that the loop's thread is still alive.
_LIVENESS_CHECK_S = 1.0


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # noqa: PLC0415  (optional speed-up)
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _next(agen: AsyncIterator[R]) -> R:
    return await anext(agen)


async def _close(agen: AsyncIterator[Any]) -> None:
    await agen.aclose()  # type: ignore[attr-defined]


class _LoopThread:
    """An event loop running forever in a daemon thread: one per process, shared by its sync Clients."""

    _shared: ClassVar[_LoopThread | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = _new_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="docwire-client", daemon=True)
        self._thread.start()

    @classmethod
    def shared(cls) -> _LoopThread:
        """This process' loop thread, started on first use (again in a forked child, whose threads are gone)."""
        with cls._lock:
            current = cls._shared
            if current is None or current.pid != os.getpid() or not current._thread.is_alive():
                current = cls._shared = cls()
            return current

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        """Runs ``coro`` on the loop and waits for its result, from any thread but the loop's own."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "a sync Client cannot be called from a callback (callbacks run on the clients' event loop); "
                "use an AsyncClient there, or collect what you need and call the client afterwards"
            )
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            while True:
                try:
                    future.exception(timeout=_LIVENESS_CHECK_S)  # waits; does not raise the call's error
                    break
                except concurrent.futures.TimeoutError:
                    if not self._thread.is_alive():
                        raise RuntimeError("the client's event loop thread has stopped") from None
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def iterate(self, agen: AsyncIterator[R]) -> Generator[R, None, None]:
        """Iterates an async iterator on the loop, item by item, from the calling thread."""
        try:
            while True:
                try:
                    yield self.run(_next(agen))
                except StopAsyncIteration:
                    return
        finally:
            self.run(_close(agen))

    def submit(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Starts ``coro`` on the loop without waiting (best effort: for finalizers)."""
        try:
            if self.loop.is_closed() or not self._thread.is_alive():
                raise RuntimeError("the loop is gone")
            asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:
            coro.close()


class Client:
    """Talks to a docwire gateway; ``Client(..., asyncio=True)`` gives the AsyncClient.

    Safe to share between threads (see the module's notes); create one per process.

    Args:
        host: a host name, ``host:port``, or a URI such as ``grpc://host:port`` or ``http://host:port``
            (``grpcs://``, ``https://`` for TLS).
        port: the port, unless the host gives it (default 80, or 443 with TLS).
        protocol: ``"grpc"`` or ``"http"`` (JSON over HTTP/1.1, see ``http_transport``), unless the URI gives it.
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

    @property
    def target(self) -> Target:
        """Where this client connects (host, port, protocol, tls)."""
        return self._async.target

    def _runner(self) -> _LoopThread:
        self._loop = _LoopThread.shared()
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
        stream: bool = True,
        compression: str | None = None,
        metadata: Metadata | None = None,
        on_done: Callback | None = None,
        on_error: Callback | None = None,
        on_always: Callback | None = None,
        continue_on_error: bool = False,
        max_attempts: int = 1,
        initial_backoff: float = 0.5,
        max_backoff: float = 2.0,
        backoff_multiplier: float = 1.5,
        show_progress: bool = False,
    ) -> Any:
        """Sends documents to endpoint ``on`` and returns every reply's documents as one DocList.

        Arguments are those of ``AsyncClient.post``. Returns the list of ``Response``
        objects with ``return_responses=True``; one document when ``return_type`` is a
        document class and one document came back; and None when a callback is given
        (replies then go to the callbacks only, and nothing is accumulated). Callbacks
        run on the clients' event loop thread: keep them quick.

        For large inputs, handle each reply in ``on_done`` (or iterate ``AsyncClient.post``)
        instead of accumulating: every document kept is memory held until the call returns,
        and on 100,000 float32[512] documents accumulating streams 20-30% slower than
        reading each reply's ``docs`` in a callback (``docs/performance.md``).

        Raises:
            ExecutorError: an executor raised (the error names it, with its traceback).
            DocwireError: the call failed.
        """
        options = PostOptions(
            parameters=parameters,
            target_executor=target_executor,
            request_size=request_size,
            return_responses=return_responses,
            return_type=return_type,
            results_in_order=results_in_order,
            prefetch=prefetch,
            timeout=timeout,
            stream=stream,
            compression=compression,
            metadata=metadata,
            on_done=on_done,
            on_error=on_error,
            on_always=on_always,
            continue_on_error=continue_on_error,
            max_attempts=max_attempts,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
            backoff_multiplier=backoff_multiplier,
            show_progress=show_progress,
        )
        return self._runner().run(self._collect(on, inputs, options))

    async def _collect(self, on: str, inputs: Inputs, options: PostOptions) -> Any:
        keep = not options.callbacks.given
        responses: list[Response[Any]] = []
        collected = doclist_of(return_doc_class(options.return_type))
        async with contextlib.aclosing(self._async.responses(on, inputs, options)) as replies:
            async for response in replies:
                if not keep:
                    continue
                if options.return_responses:
                    responses.append(response)
                elif not response.is_error:  # decode now, while later replies are still on their way
                    list.extend(collected, response.docs)  # DocList.extend would validate each document again
        if not keep:
            return None
        return responses if options.return_responses else result_docs(collected, options.return_type)

    def index(self, inputs: Inputs = None, **kwargs: Unpack[PostKwargs]) -> Any:
        """``post("/index", ...)``."""
        return self.post("/index", inputs, **kwargs)

    def search(self, inputs: Inputs = None, **kwargs: Unpack[PostKwargs]) -> Any:
        """``post("/search", ...)``."""
        return self.post("/search", inputs, **kwargs)

    def update(self, inputs: Inputs = None, **kwargs: Unpack[PostKwargs]) -> Any:
        """``post("/update", ...)``."""
        return self.post("/update", inputs, **kwargs)

    def delete(self, inputs: Inputs = None, **kwargs: Unpack[PostKwargs]) -> Any:
        """``post("/delete", ...)``."""
        return self.post("/delete", inputs, **kwargs)

    def stream_doc(
        self,
        on: str,
        inputs: BaseDoc,
        *,
        parameters: Mapping[str, Any] | None = None,
        return_type: Any = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Generator[BaseDoc, None, None]:
        """Sends one document to a generator endpoint and yields each document as it is produced.

        Raises:
            ExecutorError: the endpoint raised.
            DocwireError: the call failed.
        """
        agen = self._async.stream_doc(
            on, inputs, parameters=parameters, return_type=return_type, timeout=timeout, metadata=metadata
        )
        return self._runner().iterate(agen)

    def profiling(
        self, on: str = "/", inputs: Inputs = None, *, metadata: Metadata | None = None, show: bool = True
    ) -> dict[str, float]:
        """Where one request's time goes: prints seed 000's tree and returns its figures in ms
        (see ``AsyncClient.profiling``)."""
        return self._runner().run(self._async.profiling(on, inputs, metadata=metadata, show=show))

    def dry_run(self, timeout: float = 5.0) -> request_pb2.Status:
        """The Status of a dry run through the whole Flow."""
        return self._runner().run(self._async.dry_run(timeout))

    def is_flow_ready(self, timeout: float = 5.0) -> bool:
        """Whether the gateway and every executor behind it answer."""
        return self._runner().run(self._async.is_flow_ready(timeout))

    def endpoints(self, timeout: float = 5.0) -> dict[str, Any]:
        """The Flow's endpoints with their JSON schemas."""
        return self._runner().run(self._async.endpoints(timeout))

    def mutate(
        self,
        mutation: str,
        variables: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Sends a GraphQL mutation to the gateway's ``/graphql`` (see ``AsyncClient.mutate``)."""
        return self._runner().run(self._async.mutate(mutation, variables, timeout, headers))

    def close(self) -> None:
        """Closes the channel (a later call opens a new one)."""
        loop, self._loop = self._loop, None
        if loop is not None and loop.pid == os.getpid():
            loop.run(self._async.close())

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Garbage collection or interpreter exit: ask the loop to close the channel, do not wait.
        loop = getattr(self, "_loop", None)
        if loop is not None and loop.pid == os.getpid():
            loop.submit(self._async.close())
