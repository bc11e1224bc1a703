"""The asyncio client. Written once; the sync ``Client`` drives it on a private event loop."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from docarray import BaseDoc, DocList
from google.protobuf import json_format

from docwire_client import profiling
from docwire_client.graphql import graphql_url
from docwire_client.graphql import mutate as graphql_mutate
from docwire_client.grpc_transport import GrpcTransport
from docwire_client.http_transport import HttpTransport
from docwire_client.inputs import Inputs, Outgoing, RequestSpec, batches, never_waits, one_batch, outgoing
from docwire_client.options import (
    D,
    Metadata,
    PostKwargs,
    PostOptions,
    ReturnType,
    UnshapedKwargs,
    check_keywords,
    headers_of,
    with_post_keywords,
)
from docwire_client.progress import ProgressBar
from docwire_client.response import Response
from docwire_client.sending import RequestSource
from docwire_client.streaming_settings import streaming_settings
from docwire_client.target import Target, parse_target
from docwire_client.transport import Transport
from docwire_client.ws_transport import WebSocketTransport
from docwire_contract.conventions import DEFAULT_MAX_MESSAGE_BYTES
from docwire_contract.doc_types import return_doc_class
from docwire_contract.errors import DocwireError
from docwire_contract.v1 import request_pb2

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["AsyncClient", "single_doc_class"]

R = TypeVar("R")


async def _chain(
    first: Outgoing, second: Outgoing, rest: AsyncGenerator[Outgoing, None]
) -> AsyncGenerator[Outgoing, None]:
    yield first
    yield second
    async with contextlib.aclosing(rest):
        async for item in rest:
            yield item


def _request_spec(on: str, options: PostOptions) -> RequestSpec:
    """What every request of a post to ``on`` with ``options`` carries."""
    timeout_ms = None if options.timeout is None else int(options.timeout * 1000)
    return RequestSpec(on, options.parameters, options.target_executor, timeout_ms)


def _tls_context(root_certificates: bytes | None) -> ssl.SSLContext | bool:
    """What HTTPS and WSS verify the server with: the given PEM CA certificates, else the system's."""
    if root_certificates is None:
        return True
    return ssl.create_default_context(cadata=root_certificates.decode("ascii"))


async def _in_order(replies: AsyncIterator[tuple[Outgoing, R]]) -> AsyncGenerator[tuple[Outgoing, R], None]:
    """Replies in input order; the ones that overtake an earlier request wait for it."""
    held: dict[int, tuple[Outgoing, R]] = {}
    following = 0
    async for reply in replies:
        held[reply[0].position] = reply
        while following in held:
            yield held.pop(following)
            following += 1


def single_doc_class(return_type: ReturnType | None) -> bool:
    """Whether ``return_type`` is a document class (not ``DocList[...]``): a lone document comes back as itself."""
    return inspect.isclass(return_type) and issubclass(return_type, BaseDoc)


def result_docs(docs: DocList[D], return_type: ReturnType | None) -> D | DocList[D]:
    """The documents ``post`` gives back: one document alone when ``return_type`` is a document class."""
    return docs[0] if len(docs) == 1 and single_doc_class(return_type) else docs


class AsyncClient:
    """Talks to a docwire gateway over gRPC (or HTTP/JSON) with asyncio.

    A client belongs to the event loop it is first used in (gRPC channels cannot move
    between loops): use one per loop, or share a sync ``Client`` between threads.

    Args:
        host: a host name, ``host:port``, or a URI such as ``grpc://host:port`` or ``http://host:port``
            (``grpcs://``, ``https://`` for TLS).
        port: the port, unless the host gives it.
        protocol: ``"grpc"`` or ``"http"`` (JSON over HTTP/1.1, see ``http_transport``), unless the URI gives it.
        tls: use TLS, unless the URI's scheme says.
        root_certificates: PEM CA certificates to verify the server with (TLS only).
        max_message_size: the largest message, in bytes, sent or received.

    Raises:
        ValueError: a setting is given twice or is invalid.
    """

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        protocol: str | None = None,
        tls: bool | None = None,
        *,
        root_certificates: bytes | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self.target: Target = parse_target(host, port, protocol, tls)
        #: Whether a post of one request may go on the call single posts share (``shared_call``); a sync
        #: ``Client`` turns it off for the posts it runs on its loop, whose reader would keep the loop busy.
        self.shares_single_posts = True
        self._transport: Transport
        #: What HTTPS calls (HTTP transport, GraphQL) verify the server with.
        self._verify = _tls_context(root_certificates)
        if self.target.protocol == "grpc":
            self._transport = GrpcTransport(
                self.target, root_certificates=root_certificates, max_message_size=max_message_size
            )
        elif self.target.protocol == "http":
            self._transport = HttpTransport(self.target, verify=self._verify)
        elif self.target.protocol == "websocket":
            self._transport = WebSocketTransport(self.target, verify=self._verify, max_message_size=max_message_size)
        else:
            raise ValueError(f"unknown protocol {self.target.protocol!r}; use 'grpc', 'http' or 'websocket'")

    async def _replies(
        self, on: str, inputs: Inputs, options: PostOptions
    ) -> AsyncGenerator[tuple[int, Response[BaseDoc]], None]:
        """Sends the inputs as requests; yields each reply with the number of documents its request carried.

        Inputs that fit in one request go as one ``post`` (over gRPC, on the Stream call single posts
        share: ``shared_call``). Longer inputs stream over
        one bidi call (``stream=True``) or go as unary calls (``stream=False``); either
        way at most ``prefetch`` requests are in flight, so memory stays bounded however
        long the input is. A request's slot frees when its reply is handed on: in input
        order with ``results_in_order``, else as soon as it arrives.
        """
        spec = _request_spec(on, options)
        doc_type = return_doc_class(options.return_type)
        transport = self._transport
        docs = one_batch(inputs, options.send.request_size)
        share = self.shares_single_posts
        if docs is not None:  # one request, known without pulling the inputs
            request_id, raw = transport.build_request(spec, docs)
            yield len(docs), await transport.post(raw, doc_type, options, request_id if share else None)
            return
        requests = outgoing(spec, batches(inputs, options.send.request_size), transport.build_request)
        first = await anext(requests)
        second = await anext(requests, None)
        if second is None:
            yield first.size, await transport.post(first.raw, doc_type, options, first.request_id if share else None)
            return
        slots = asyncio.Semaphore(options.send.prefetch)
        send = transport.stream if options.send.stream else transport.posts
        source = RequestSource(_chain(first, second, requests), never_waits=never_waits(inputs))
        replies = send(source, slots, doc_type, options)
        ordered = _in_order(replies) if options.send.results_in_order else replies
        with streaming_settings() as count_request:
            async with contextlib.aclosing(replies), contextlib.aclosing(ordered):
                async for sent, response in ordered:
                    slots.release()
                    count_request()
                    yield sent.size, response

    def blocking_responses(self, on: str, inputs: Inputs, options: PostOptions) -> list[Response[BaseDoc]] | None:
        """``responses``, got in the calling thread without an event loop when the post is one unary gRPC
        call (inputs that make one request, known without pulling them: see ``one_batch``); None when it
        is not, and ``responses`` must run on a loop. The sync ``Client`` asks this first.

        Raises:
            ExecutorError: an executor raised and nothing handles it.
            DocwireError: the call failed, or the gateway reported an error for the request.
        """
        if not isinstance(self._transport, GrpcTransport):
            return None
        docs = one_batch(inputs, options.send.request_size)
        if docs is None:
            return None
        request_id, raw = self._transport.build_request(_request_spec(on, options), docs)
        with ProgressBar(options.show_progress, on) as progress:
            response = self._transport.post_blocking(raw, return_doc_class(options.return_type), options, request_id)
            progress.advance(len(docs))
            options.callbacks.handle(response)
        return [response]

    async def responses(self, on: str, inputs: Inputs, options: PostOptions) -> AsyncGenerator[Response[BaseDoc], None]:
        """Every reply, after the progress bar and the callbacks have seen it (the core of ``post``).

        Error replies come too when ``on_error`` or ``continue_on_error`` handled them.

        Raises:
            ExecutorError: an executor raised and nothing handles it.
            DocwireError: the call failed, or the gateway reported an error for a request.
        """
        with ProgressBar(options.show_progress, on) as progress:
            async with contextlib.aclosing(self._replies(on, inputs, options)) as replies:
                async for size, response in replies:
                    progress.advance(size)
                    options.callbacks.handle(response)
                    yield response

    @overload
    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        return_responses: Literal[True],
        return_type: type[DocList[D]] | type[D] | None = None,
        **kwargs: Unpack[UnshapedKwargs],
    ) -> AsyncIterator[Response[D]]: ...
    @overload
    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        return_responses: Literal[False] = False,
        return_type: type[DocList[D]] | None = None,
        **kwargs: Unpack[UnshapedKwargs],
    ) -> AsyncIterator[DocList[D]]: ...
    @overload
    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        return_responses: Literal[False] = False,
        return_type: type[D],
        **kwargs: Unpack[UnshapedKwargs],
    ) -> AsyncIterator[D | DocList[D]]: ...
    @overload  # what to yield known only at run time: any shape, of some document class
    def post(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        return_responses: bool = False,
        return_type: ReturnType | None = None,
        **kwargs: Unpack[UnshapedKwargs],
    ) -> AsyncIterator[Response[BaseDoc] | DocList[BaseDoc] | BaseDoc]: ...
    @with_post_keywords
    def post(self, on: str, inputs: Inputs = None, **kwargs: Unpack[PostKwargs]) -> AsyncIterator[object]:
        """Sends documents to endpoint ``on``; yields each reply's documents (or the replies).

        Callbacks, when given, see each reply before it is yielded (the sync ``Client.post``
        then returns None instead).

        Args:
            on: the endpoint, for example ``"/index"``.
            inputs: a document, documents, a (async) generator of them, a function returning one, or None.
            parameters: parameters for the executors (``"<executor>__key"`` reaches only that executor).
            target_executor: a regular expression: only executors whose name matches see the request.
            request_size: documents per request.
            return_responses: yield ``Response`` objects instead of documents.
            return_type: the document class (or ``DocList[X]``) replies are decoded into; with a
                document class, a reply holding one document yields that document.
            results_in_order: yield in input order even when replies finish out of order.
            prefetch: the most requests in flight at once.
            timeout: seconds each request may take.
            stream: send over one bidi stream (True) or each request as a unary call (False).
            compression: ``"gzip"`` or ``"deflate"`` for what the client sends.
            metadata: headers for the calls (for example ``{"authorization": "Bearer ..."}``);
                executors receive them as ``metadata``.
            on_done: called with each successful reply.
            on_error: called with each reply carrying an executor's exception (instead of raising).
            on_always: called with every reply, after ``on_done`` or ``on_error``.
            continue_on_error: log executor errors (and callback exceptions) and go on instead of raising.
            max_attempts: attempts per call on transient connectivity errors, the first included.
            initial_backoff: seconds bounding the first retry's random delay.
            max_backoff: the largest bound of a retry's random delay, in seconds.
            backoff_multiplier: how much the bound grows from one retry to the next.
            show_progress: draw a progress bar (documents and requests done, rate) on stderr.

        Raises:
            ExecutorError: an executor raised (the error names it, with its traceback).
            DocwireError: the call failed.
        """
        check_keywords("AsyncClient.post", kwargs)  # now, as Python checks written-out keywords
        return self._post(on, inputs, kwargs)

    async def _post(self, on: str, inputs: Inputs, keywords: PostKwargs) -> AsyncGenerator[object, None]:
        options = PostOptions.of(keywords)  # at the first iteration, where invalid settings always raised
        async with contextlib.aclosing(self.responses(on, inputs, options)) as responses:
            async for response in responses:
                if options.return_responses:
                    yield response
                elif not response.is_error:
                    yield result_docs(response.docs, options.return_type)

    # The shortcuts return what ``post`` returns; typed callers use ``post``, whose overloads say what that is.
    def index(self, inputs: Inputs = None, **kwargs: Unpack[PostKwargs]) -> AsyncIterator[Any]:
        """``post("/index", ...)``."""
        return self.post("/index", inputs, **kwargs)

    def search(self, inputs: Inputs = None, **kwargs: Unpack[PostKwargs]) -> AsyncIterator[Any]:
        """``post("/search", ...)``."""
        return self.post("/search", inputs, **kwargs)

    def update(self, inputs: Inputs = None, **kwargs: Unpack[PostKwargs]) -> AsyncIterator[Any]:
        """``post("/update", ...)``."""
        return self.post("/update", inputs, **kwargs)

    def delete(self, inputs: Inputs = None, **kwargs: Unpack[PostKwargs]) -> AsyncIterator[Any]:
        """``post("/delete", ...)``."""
        return self.post("/delete", inputs, **kwargs)

    async def stream_doc(
        self,
        on: str,
        inputs: BaseDoc,
        *,
        parameters: Mapping[str, Any] | None = None,
        return_type: ReturnType | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncIterator[BaseDoc]:
        """Sends one document to a generator endpoint and yields each document as it is produced.

        Raises:
            ExecutorError: the endpoint raised.
            DocwireError: the call failed.
        """
        doc_type = return_doc_class(return_type) if return_type is not None else type(inputs)
        produced = self._transport.stream_doc(on, inputs, parameters, doc_type, timeout, headers_of(metadata))
        async with contextlib.aclosing(produced):
            async for doc in produced:
                yield doc

    async def profiling(
        self, on: str = "/", inputs: Inputs = None, *, metadata: Metadata | None = None, show: bool = True
    ) -> dict[str, float]:
        """Sends one request (one empty document by default) and tells where its time went.

        Prints seed 000's tree (round trip, client-server network, server, gateway-executors
        network, each executor) unless ``show=False``, and returns the same figures, in
        milliseconds, keyed by those names and the executors' names.

        Raises:
            DocwireError: the request failed.
        """
        options = PostOptions(return_responses=True, metadata=metadata)
        start = time.perf_counter()
        probe = BaseDoc() if inputs is None else inputs  # an id only: it fits any endpoint's schema
        replies = [reply async for reply in self.responses(on, probe, options)]
        roundtrip_ms = (time.perf_counter() - start) * 1e3
        figures = profiling.latencies(roundtrip_ms, replies[0].routes)
        if show:
            profiling.show(figures)
        return figures

    async def dry_run(self, timeout: float = 5.0) -> request_pb2.Status:
        """Asks the gateway whether every executor answers; returns the Status it reports.

        Raises:
            DocwireError: the gateway cannot be reached.
        """
        status: request_pb2.Status = await self._transport.dry_run(timeout)
        return status

    async def is_flow_ready(self, timeout: float = 5.0) -> bool:
        """Whether the gateway and every executor behind it answer."""
        try:
            status = await self.dry_run(timeout)
        except DocwireError:
            return False
        return status.code == request_pb2.Status.CODE_SUCCESS

    async def endpoints(self, timeout: float = 5.0) -> dict[str, Any]:
        """The Flow's endpoints with their JSON schemas: ``{"/index": {"input": ..., "output": ...}}``."""
        info = await self._transport.endpoints(timeout)
        schemas = json_format.MessageToDict(info.schemas)
        return {endpoint: schemas.get(endpoint, {}) for endpoint in info.endpoints}

    async def mutate(
        self,
        mutation: str,
        variables: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Sends a GraphQL mutation (or query) to the gateway's ``/graphql``; returns the GraphQL response,
        ``{"data": {"docs": [...]}}``, with GraphQL's errors (an executor's exception, a bad query) in
        ``"errors"``. GraphQL is served on the gateway's HTTP port: point the client there.

        Raises:
            GatewayUnavailable: the server cannot be reached (or the port speaks gRPC).
            RequestTimeout: no answer within ``timeout`` seconds.
            DocwireError: the answer is not a GraphQL response (for example HTTP 404).
        """
        return await graphql_mutate(
            graphql_url(self.target),
            mutation,
            variables=variables,
            timeout=timeout,
            headers=headers,
            verify=self._verify,
            client=self._transport.http_pool,
        )

    def close_blocking(self) -> None:
        """Closes what ``blocking_responses`` opened (a later call opens it again)."""
        if isinstance(self._transport, GrpcTransport):
            self._transport.close_blocking()

    async def close(self) -> None:
        """Closes the channel."""
        await self._transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
