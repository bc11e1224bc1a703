"""The interface ``AsyncClient`` is written against; the gRPC, HTTP and WebSocket transports implement it.

Modelled on httpx's ``AsyncBaseTransport`` (``httpx/_transports/base.py``) and connect-python's
``ClientProtocol`` (``src/connectrpc/_protocol.py``). The client does what every protocol shares: it cuts
the inputs into requests, bounds how many are in flight, orders the replies, runs the callbacks and the
progress bar. A transport serializes a batch of documents in its own form, moves the requests, retries
them as ``options.retry`` says, and hands back each reply as a ``Response``; it translates its layer's
errors (``grpc.aio.AioRpcError``, ``httpx.HTTPError``, WebSocket closes) into ``DocwireError`` exactly once.

An ``abc.ABC`` rather than a ``typing.Protocol``: a Protocol serves implementations that do not know the
interface (other libraries' classes, test fakes), and ours all do. The transports are a closed family that
``AsyncClient`` picks from the target's protocol (nobody brings their own), so each class names the
interface: mypy checks every method against it where the class is written, a transport missing a method
fails when it is constructed rather than at its first call, and the base holds what the family shares
(``posts``, as concurrent ``post`` calls). Calls cost the same either way.

What a transport cannot do is part of the interface, not found out at run time: ``http_pool`` is None
when there are no HTTP connections for GraphQL (``mutate``) to share; a transport without bidi streams
(HTTP/1.1) says so by making its ``stream`` the ``posts`` it inherits, and one without unary calls (a
WebSocket) by making its ``posts`` its ``stream``.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

import httpx
from docarray import BaseDoc

from docwire_client.inputs import Outgoing, RequestSpec
from docwire_client.options import PostOptions
from docwire_client.response import Response
from docwire_client.sending import RequestSource, concurrent_calls
from docwire_contract.v1 import request_pb2

__all__ = ["Replies", "Transport"]

D = TypeVar("D", bound=BaseDoc)

#: What ``posts`` and ``stream`` yield: each reply with the request it answers.
Replies: TypeAlias = AsyncGenerator[tuple[Outgoing, Response[D]], None]


class Transport(abc.ABC):
    """Sends a docwire gateway the requests of one client, over one protocol.

    A transport opens its connections on first use, in the running event loop, and keeps
    them until ``close``.
    """

    @abc.abstractmethod
    def build_request(self, spec: RequestSpec, docs: Sequence[BaseDoc]) -> tuple[str, bytes]:
        """One batch of documents serialized as this transport sends it, and the request id it carries."""

    @abc.abstractmethod
    async def post(
        self, raw: bytes, doc_type: type[D], options: PostOptions, request_id: str | None = None
    ) -> Response[D]:
        """Sends one request and returns its reply, decoded into ``doc_type`` when read.

        With ``request_id`` (the request's own), the request may go over a call that single posts
        share (gRPC's Stream call, the WebSocket), its reply matched by that id; without it, as a
        call of its own where the protocol has them (``stream=False``). Retried on transient errors
        as ``options.retry`` says. A reply carrying an executor's error, or (over a shared call) an
        error the gateway names, is returned (for the callbacks), not raised.

        Raises:
            DocwireError: the call failed (after its retries).
        """

    def posts(
        self,
        source: RequestSource,
        slots: asyncio.Semaphore,
        doc_type: type[D],
        options: PostOptions,
    ) -> Replies[D]:
        """``stream=False``: each request as a ``post`` of its own, as many at once as ``slots`` allows;
        yields each reply with the request it answers, as they finish.

        A slot is taken before each request is pulled; the caller releases it when it is
        done with the reply.

        Raises:
            DocwireError: a call failed (after its retries).
        """
        return concurrent_calls(lambda raw: self.post(raw, doc_type, options), source, slots)

    @abc.abstractmethod
    def stream(
        self,
        source: RequestSource,
        slots: asyncio.Semaphore,
        doc_type: type[D],
        options: PostOptions,
    ) -> Replies[D]:
        """``stream=True``: the requests over one stream, sending and receiving at once; yields each reply
        with the request it answers.

        Slots work as in ``posts``. When the stream fails on a transient error, a new one
        re-sends only the requests that got no reply, then goes on with the inputs;
        ``options.retry.max_attempts`` counts consecutive attempts without a reply.

        Raises:
            DocwireError: the stream failed (after its retries).
        """

    @abc.abstractmethod
    def stream_doc(
        self,
        on: str,
        doc: BaseDoc,
        parameters: Mapping[str, Any] | None,
        doc_type: type[D],
        timeout: float | None,
        headers: tuple[tuple[str, str], ...],
    ) -> AsyncGenerator[D, None]:
        """Sends one document to the generator endpoint ``on``; yields each document it produces, as ``doc_type``.

        Raises:
            ExecutorError: the endpoint raised.
            DocwireError: the call failed.
        """

    @abc.abstractmethod
    async def dry_run(self, timeout: float) -> request_pb2.Status:
        """The Status the gateway reports for the whole Flow.

        Raises:
            DocwireError: the gateway cannot be reached.
        """

    @abc.abstractmethod
    async def endpoints(self, timeout: float) -> request_pb2.EndpointsInfo:
        """The Flow's endpoints and their JSON schemas.

        Raises:
            DocwireError: the gateway cannot be reached.
        """

    @property
    @abc.abstractmethod
    def http_pool(self) -> httpx.AsyncClient | None:
        """The keep-alive HTTP connections GraphQL calls (``mutate``) share, opened on first use; None when
        this transport keeps none (gRPC), and ``mutate`` then opens a connection for the call."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Closes the connections (a later call opens new ones)."""
