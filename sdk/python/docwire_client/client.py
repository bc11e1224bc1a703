"""The sync ``Client``: the asyncio client driven on one private event loop.

Every sync Client of a process shares one event loop, running in a daemon thread;
each client keeps one channel for its life. Starting a loop and a channel per call
would cost more CPU than the round trip itself. Because gRPC channels cannot move
between event loops or threads (grpc/grpc#25364), this is also what makes a sync
Client safe to share between threads: each thread's calls are handed to that one
loop, and run there concurrently. gRPC does not survive ``fork()``: a client used
in a process forked after gRPC was used raises, rather than hang.

A post that is one gRPC request (one document, or a list that fits one request)
runs no event loop at all: it blocks the calling thread on a channel of gRPC's
sync API (``AsyncClient.blocking_responses``), which costs less per round trip
than a turn of the loop (``docs/performance.md``, session 9).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from docarray import BaseDoc, DocList

from docwire_client.aio import AsyncClient, result_docs
from docwire_client.callbacks import Callback
from docwire_client.inputs import Inputs
from docwire_client.loop_thread import LoopThread
from docwire_client.options import (
    D,
    Metadata,
    PostKwargs,
    PostOptions,
    RequestKwargs,
    ReturnType,
    UnshapedKwargs,
    check_keywords,
    with_post_keywords,
)
from docwire_client.response import Response
from docwire_client.target import Target
from docwire_contract.conventions import DEFAULT_MAX_MESSAGE_BYTES
from docwire_contract.doc_types import doclist_of, return_doc_class
from docwire_contract.v1 import request_pb2

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Client"]


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
        # Its one-request gRPC posts share a call of the sync API (``post_blocking``); those that must run on
        # the loop (inputs not known to make one request) take a call of their own, leaving no reader task there.
        self._async.shares_single_posts = False
        self._loop: LoopThread | None = None

    @property
    def target(self) -> Target:
        """Where this client connects (host, port, protocol, tls)."""
        return self._async.target

    def _runner(self) -> LoopThread:
        self._loop = LoopThread.shared()
        return self._loop

    @overload
    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        return_responses: Literal[True],
        return_type: type[DocList[D]] | type[D] | None = None,
        **kwargs: Unpack[RequestKwargs],
    ) -> list[Response[D]]: ...
    @overload
    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        return_responses: Literal[False] = False,
        return_type: type[DocList[D]] | None = None,
        **kwargs: Unpack[RequestKwargs],
    ) -> DocList[D]: ...
    @overload
    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        return_responses: Literal[False] = False,
        return_type: type[D],
        **kwargs: Unpack[RequestKwargs],
    ) -> D | DocList[D]: ...
    @overload  # on_done given: the replies go to the callbacks
    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        return_responses: bool = False,
        return_type: ReturnType | None = None,
        on_done: Callback,
        on_error: Callback | None = None,
        on_always: Callback | None = None,
        **kwargs: Unpack[RequestKwargs],
    ) -> None: ...
    @overload  # on_error given
    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        return_responses: bool = False,
        return_type: ReturnType | None = None,
        on_done: None = None,
        on_error: Callback,
        on_always: Callback | None = None,
        **kwargs: Unpack[RequestKwargs],
    ) -> None: ...
    @overload  # on_always given
    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        return_responses: bool = False,
        return_type: ReturnType | None = None,
        on_done: None = None,
        on_error: None = None,
        on_always: Callback,
        **kwargs: Unpack[RequestKwargs],
    ) -> None: ...
    @overload  # what to return known only at run time: any shape, of some document class
    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        return_responses: bool = False,
        return_type: ReturnType | None = None,
        **kwargs: Unpack[UnshapedKwargs],
    ) -> list[Response[BaseDoc]] | DocList[BaseDoc] | BaseDoc | None: ...
    @with_post_keywords
    def post(self, on: str, inputs: Inputs = None, **kwargs: Unpack[PostKwargs]) -> object:
        """Sends documents to endpoint ``on`` and returns every reply's documents as one DocList.

        Arguments are those of ``AsyncClient.post``. Returns the list of ``Response``
        objects with ``return_responses=True``; one document when ``return_type`` is a
        document class and one document came back; and None when a callback is given
        (replies then go to the callbacks only, and nothing is accumulated). Callbacks
        run on the clients' shared event loop (in the calling thread, or the client's loop
        thread when another thread runs the loop): keep them quick. A post that is one gRPC
        request runs no loop: its callbacks run in the calling thread.

        For large inputs, handle each reply in ``on_done`` (or iterate ``AsyncClient.post``)
        instead of accumulating: every document kept is memory held until the call returns,
        and on 100,000 float32[512] documents accumulating streams 20-30% slower than
        reading each reply's ``docs`` in a callback (``docs/performance.md``).

        Raises:
            ExecutorError: an executor raised (the error names it, with its traceback).
            DocwireError: the call failed.
        """
        check_keywords("Client.post", kwargs)
        options = PostOptions.of(kwargs)
        replies = self._async.blocking_responses(on, inputs, options)  # one request: no event loop
        if replies is not None:
            gathered = _Gathered(options)
            for response in replies:
                gathered.add(response)
            return gathered.result()
        return self._runner().run(self._collect(on, inputs, options))

    async def _collect(
        self, on: str, inputs: Inputs, options: PostOptions
    ) -> list[Response[BaseDoc]] | DocList[BaseDoc] | BaseDoc | None:
        gathered = _Gathered(options)
        async with contextlib.aclosing(self._async.responses(on, inputs, options)) as replies:
            async for response in replies:
                gathered.add(response)  # decode now, while later replies are still on their way
        return gathered.result()

    # The shortcuts return what ``post`` returns; typed callers use ``post``, whose overloads say what that is.
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
        return_type: ReturnType | None = None,
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
        """Closes the channels (a later call opens a new one)."""
        self._async.close_blocking()
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
        if (client := getattr(self, "_async", None)) is not None:
            client.close_blocking()
        loop = getattr(self, "_loop", None)
        if loop is not None and loop.pid == os.getpid():
            loop.submit(self._async.close())


class _Gathered:
    """What ``Client.post`` returns, gathered reply by reply: the replies (``return_responses``), their
    documents as one DocList, or nothing when callbacks take the replies."""

    def __init__(self, options: PostOptions) -> None:
        self._options = options
        self._keep = not options.callbacks.given
        self._responses: list[Response[BaseDoc]] = []
        self._docs = doclist_of(return_doc_class(options.return_type))

    def add(self, response: Response[BaseDoc]) -> None:
        if not self._keep:
            return
        if self._options.return_responses:
            self._responses.append(response)
        elif not response.is_error:
            list.extend(self._docs, response.docs)  # DocList.extend would validate each document again

    def result(self) -> list[Response[BaseDoc]] | DocList[BaseDoc] | BaseDoc | None:
        if not self._keep:
            return None
        if self._options.return_responses:
            return self._responses
        return result_docs(self._docs, self._options.return_type)
