"""The gateway core: the GatewayService's rpcs, one request type routed through the Flow's executors.

Protocol-neutral: each rpc takes the request and a ``RequestContext`` (``context``), and
reports a failure by raising a ``DocwireError``. The transports adapt to it at their
boundary: gRPC (``transports.grpc_gateway``), HTTP/JSON and GraphQL (through ``calls()``),
WebSocket (``stream``).

Along a chain, documents are never decoded here: the gateway reads the header and
parameters, forwards the request bytes, and checks each reply's status. The reply to
the client is the gateway's route serialized in front of the last executor's reply:
protobuf merges concatenated messages and appends repeated fields, so the gateway's
route comes first without re-encoding the documents. A graph (``needs``, ``when``,
``floating``) runs through ``dag``, which reads document messages only where replies
merge or a filter applies; sharded executors are called through ``shards``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.message import DecodeError

from docwire.gateway.admission import InflightLimit
from docwire.gateway.context import RequestContext
from docwire.gateway.dag import GraphRequest, run_graph
from docwire.gateway.graph import GraphPlan, Planner
from docwire.gateway.replica_streams import UpstreamStreams
from docwire.gateway.replies import error_reply, merge_endpoints, with_parameters, with_results
from docwire.gateway.router import Route, is_scoped, scope_parameters
from docwire.gateway.shards import ExecutorPools
from docwire.gateway.splice import Reply, as_bytes, reply_code, request_head, route_bytes
from docwire.observability.doc_count import count_serialized_docs
from docwire.observability.observer import GatewayObserver, RequestObservation
from docwire_contract.conventions import DEFAULT_ENDPOINT, normalize_endpoint
from docwire_contract.errors import BadRequest, DocwireError, EndpointNotFound, GatewayUnavailable
from docwire_contract.v1 import request_pb2

__all__ = ["Calls", "GatewayServicer", "ServerStreamCall", "UnaryCall"]

logger = logging.getLogger("docwire.gateway")


#: A unary rpc on serialized messages: the request's bytes and its call's context in, the reply's bytes out.
UnaryCall = Callable[[bytes, RequestContext], Awaitable[bytes]]
#: A server-streaming rpc on serialized messages: one request's bytes in, each reply's bytes out.
ServerStreamCall = Callable[[bytes, RequestContext], AsyncIterator[bytes]]


@dataclass(frozen=True, slots=True)
class Calls:
    """The core's unary and server-streaming rpcs by method name, on serialized messages.

    What a transport that serves rpcs by their descriptors (the HTTP transcoder) calls:
    an rpc is found by name, whatever its message types.
    """

    unary: Mapping[str, UnaryCall]
    server_streaming: Mapping[str, ServerStreamCall]


class GatewayServicer:
    """Serves a Flow's executors, to every transport (see the module docstring)."""

    def __init__(
        self,
        pools: Sequence[ExecutorPools],
        prefetch: int,
        versions: Callable[[], Mapping[str, str]],  # read when Status is first asked
        observer: GatewayObserver | None = None,
        max_inflight: int | None = None,
    ) -> None:
        self._inflight = InflightLimit(max_inflight)  # gateway-wide (``admission``); None: no bound
        self._pools = {pool.node.name: pool for pool in pools}
        self._planner = Planner([pool.node for pool in pools])
        self._names = set(self._pools)
        self._reducers = {name: pool.reducer for name, pool in self._pools.items() if pool.reducer is not None}
        self._prefetch = prefetch
        self._versions = versions
        self._endpoints = request_pb2.EndpointsInfo()
        self._discovered = False
        self._draining = asyncio.Event()
        self._calls_open = 0  # Post, Stream and StreamDoc calls under way (``drained``)
        self._no_calls = asyncio.Event()
        self._no_calls.set()
        self._observer = observer  # metrics and traces (docwire.observability); None: off
        # The Posts that carry no metadata, sent over one ProcessStream per replica (``post``).
        self._post_streams = UpstreamStreams(shared=True)

    async def discover(self, timeout: float) -> None:
        """Asks every executor for its endpoints (waiting for them to be up) and builds the Flow's table."""
        infos = await asyncio.gather(*(pool.endpoints(timeout, wait_for_ready=True) for pool in self._pools.values()))
        for pool, info in zip(self._pools.values(), infos, strict=True):
            pool.with_node(dataclasses.replace(pool.node, endpoints=frozenset(info.endpoints)))
        self._planner = Planner([pool.node for pool in self._pools.values()])
        self._endpoints = merge_endpoints(infos)
        self._discovered = True

    @property
    def post_streams(self) -> UpstreamStreams:
        """The ProcessStream calls the Posts without metadata share (for tests and diagnostics)."""
        return self._post_streams

    @property
    def endpoints_info(self) -> request_pb2.EndpointsInfo:
        """The Flow's endpoints and their schemas, as discovered."""
        return self._endpoints

    def calls(self) -> Calls:
        """Each rpc but the bidirectional Stream by name, on serialized messages (see ``Calls``)."""

        async def dry_run(_: bytes, context: RequestContext) -> bytes:
            return (await self.dry_run()).SerializeToString()

        async def status(_: bytes, context: RequestContext) -> bytes:
            return self.status().SerializeToString()

        async def endpoints(_: bytes, context: RequestContext) -> bytes:
            return self._endpoints.SerializeToString()

        return Calls(
            unary={"Post": self.post, "DryRun": dry_run, "Status": status, "Endpoints": endpoints},
            server_streaming={"StreamDoc": self.stream_doc},
        )

    async def handle(
        self,
        raw: bytes,
        *,
        errors_in_reply: bool = False,
        metadata: Sequence[tuple[str, str]] = (),
        streams: UpstreamStreams | None = None,
    ) -> bytes:
        """Routes one serialized DataRequest through the Flow and returns the serialized reply.

        Args:
            raw: the request.
            errors_in_reply: answer a failure of this request (unknown endpoint, executor
                unavailable, ...) with an error status in its reply instead of raising, so
                the other requests of a stream go on. Unparsable bytes still raise.
            metadata: the client's call metadata, passed on to every executor.
            streams: the ProcessStream calls of the client stream this request came on.

        Raises:
            DocwireError: the request failed (always BadRequest for unparsable bytes).
        """
        start = time.time_ns()
        head = request_head(raw)  # the documents are never parsed along a chain (``splice``)
        seen = None
        if self._observer is not None:
            seen = self._observer.request(head.message, metadata, _document_count(raw))
            metadata = seen.metadata
        try:
            self._inflight.enter()  # Overloaded past max_inflight: answered as any failure of the request
            reply = await self._route(head.message, raw, start, metadata, streams, seen, whole=head.whole)
            return reply if seen is None else seen.succeeded(reply)
        except DocwireError as error:
            if seen is not None:
                seen.failed(error)
            if not errors_in_reply:
                raise
            return error_reply(head.whole(), error, start)  # BadRequest: documents that do not parse
        finally:
            self._inflight.leave()
            if seen is not None:
                seen.finish()

    async def _route(
        self,
        request: request_pb2.DataRequest,
        raw: bytes,
        start: int,
        metadata: Sequence[tuple[str, str]],
        streams: UpstreamStreams | None,
        seen: RequestObservation | None = None,
        whole: Callable[[], request_pb2.DataRequest] | None = None,
    ) -> bytes:
        """The reply to ``request`` (``raw`` parsed: whole, or its head alone when ``whole`` parses the rest)."""
        header = request.header
        endpoint = normalize_endpoint(header.exec_endpoint) if header.HasField("exec_endpoint") else DEFAULT_ENDPOINT
        parameters = json_format.MessageToDict(request.parameters) if request.HasField("parameters") else None
        target = header.target_executor if header.HasField("target_executor") else None
        plan = self._plan(endpoint, target)
        timeout = header.timeout / 1000 if header.HasField("timeout") and header.timeout else None
        deadline = None if timeout is None else time.monotonic() + timeout
        scoped = is_scoped(parameters, self._names)
        if whole is not None and (scoped or isinstance(plan, GraphPlan)):
            request = whole()  # documents are read where branches merge and filters apply; scoping copies them
        if isinstance(plan, GraphPlan):

            async def send(name: str, raw: bytes, remaining: float | None, on_path: bool) -> bytes:
                reply = await self._pools[name].send(raw, endpoint, remaining, metadata, streams if on_path else None)
                return as_bytes(reply)

            replied = None if seen is None else seen.executor_replied
            graph_request = GraphRequest(
                request, raw, parameters, scoped, self._names, deadline, self._reducers, replied
            )
            return route_bytes(start) + await run_graph(plan, graph_request, send)

        current: Reply = raw
        reply = request
        for node in plan.executors:
            if scoped:
                own = scope_parameters(parameters or {}, node.name, self._names)
                current = with_parameters(reply, with_results(own, reply))
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            current = await self._pools[node.name].send(current, endpoint, remaining, metadata, streams)
            code = reply_code(current)  # the header alone: the documents go on as they came
            if scoped:
                reply = request_pb2.DataRequest.FromString(as_bytes(current))
            if seen is not None:
                seen.executor_replied(node.name, code)
            if code != request_pb2.Status.CODE_SUCCESS:
                break
        if scoped:
            current = with_parameters(reply, with_results(parameters or {}, reply))
        return b"".join((route_bytes(start), current))

    def _plan(self, endpoint: str, target: str | None) -> Route | GraphPlan:
        """The request's plan (a chain's route, or a graph's plan; cached); refused until the executors'
        endpoints are known.

        The gRPC port opens before discovery ends (so health checks can say NOT_SERVING
        meanwhile); before it ends every executor looks endpoint-less, that is pass-through,
        and a request would come back untouched as if it had been served.

        Raises:
            GatewayUnavailable: the Flow is still starting.
        """
        if not self._discovered:
            raise GatewayUnavailable("the Flow is starting: its executors are not all up yet; try again shortly")
        return self._planner.plan(endpoint, target)

    async def post(self, raw: bytes, context: RequestContext) -> bytes:
        """Post: one request, one reply.

        Posts go to each replica over one ProcessStream call that they share, as the requests of a
        client stream do (``forwarding``): a message on an open call costs about half what a unary call
        costs both processes. A Post whose metadata goes on to the executors (a stream's metadata is
        its call's), and every Post when metrics or traces are on, goes as a unary call of its own.

        Raises:
            DocwireError: the request failed, or the gateway is stopping (GatewayUnavailable).
        """
        self._admit()
        try:
            metadata = context.metadata()
            shared = self._post_streams if not metadata and self._observer is None else None
            return await self.handle(raw, metadata=metadata, streams=shared)
        finally:
            self._release()

    def _admit(self) -> None:
        """Counts a new call in, or refuses it once the gateway drains (clients retry elsewhere or later).

        Raises:
            GatewayUnavailable: the gateway is stopping.
        """
        if self._draining.is_set():
            raise GatewayUnavailable("the gateway is stopping: it takes no new calls; send this one again")
        self._calls_open += 1
        self._no_calls.clear()

    def _release(self) -> None:
        self._calls_open -= 1
        if not self._calls_open:
            self._no_calls.set()

    async def stream(
        self,
        requests: AsyncIterator[bytes],
        context: RequestContext,
        *,
        prefetch: int | None = None,
        in_order: bool = False,
    ) -> AsyncGenerator[bytes, None]:
        """Stream: handles requests concurrently, at most ``prefetch`` in flight, replies as they finish.

        ``prefetch`` overrides the gateway's own for this stream; ``in_order`` holds each reply
        back until those of the requests read before it are sent (a request waiting for its
        turn still counts as in flight, so at most ``prefetch`` replies wait). Jina's clients
        ask for both in their call metadata (``transports.grpc_gateway``).

        A request's failure comes back in its reply (``handle``). When the gateway drains
        (it is stopping), it stops reading: the requests it took in are answered, then the
        call ends with GatewayUnavailable. A request without a reply was never forwarded,
        so the client may send it again without it running twice.

        Raises:
            DocwireError: bytes that are not a request (BadRequest), or the gateway is
                stopping (GatewayUnavailable); the call ends there.
        """
        self._admit()  # released in the finally below: one generator, no wrapper on the replies' path
        slots = asyncio.Semaphore(prefetch or self._prefetch)
        replies: asyncio.Queue[tuple[int, bytes] | DocwireError | None] = asyncio.Queue()
        in_flight: set[asyncio.Task[None]] = set()
        metadata = context.metadata()
        streams = UpstreamStreams()
        cut_short = False

        async def handle_one(raw: bytes, position: int) -> None:
            try:
                reply = await self.handle(raw, errors_in_reply=True, metadata=metadata, streams=streams)
                await replies.put((position, reply))
            except DocwireError as error:  # unparsable bytes: no request id to answer
                await replies.put(error)

        async def read_requests() -> None:
            nonlocal cut_short
            position = 0
            async for raw in requests:
                await slots.acquire()
                if self._draining.is_set():  # read after the drain began (a stream opened meanwhile): not forwarded
                    cut_short = True
                    return
                task = asyncio.create_task(handle_one(raw, position))
                position += 1
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)

        async def feed() -> None:
            nonlocal cut_short
            reading = asyncio.create_task(read_requests())
            draining = asyncio.create_task(self._draining.wait())
            try:
                await asyncio.wait((reading, draining), return_when=asyncio.FIRST_COMPLETED)
                if not reading.done():
                    cut_short = True  # what it read and did not start is dropped: never forwarded
                    reading.cancel()
                    await asyncio.wait((reading,))
                if not reading.cancelled() and (failure := reading.exception()) is not None:
                    raise failure
                while in_flight:
                    await asyncio.wait(set(in_flight))
                await streams.close()
            finally:
                draining.cancel()
                reading.cancel()
                replies.put_nowait(None)

        feeder = asyncio.create_task(feed())
        waiting: dict[int, bytes] = {}  # in_order: replies that came before their turn
        turn = 0
        try:
            while (item := await replies.get()) is not None:
                if isinstance(item, DocwireError):
                    raise item
                position, reply = item
                if not in_order:
                    slots.release()
                    yield reply
                    continue
                waiting[position] = reply
                while turn in waiting:
                    slots.release()
                    yield waiting.pop(turn)
                    turn += 1
            await feeder
            if cut_short:
                raise GatewayUnavailable("the gateway is stopping; send the unanswered requests again")
        finally:
            for task in (feeder, *in_flight):
                task.cancel()
            streams.cancel()
            self._release()

    async def stream_doc(self, raw: bytes, context: RequestContext) -> AsyncGenerator[bytes, None]:
        """StreamDoc: forwards to the executor that serves the generator endpoint, reply by reply.

        Raises:
            DocwireError: the request failed, or the gateway is stopping (GatewayUnavailable).
        """
        self._admit()
        try:
            self._inflight.enter()
            try:
                request = request_pb2.SingleDocumentRequest.FromString(raw)
            except DecodeError as exc:
                raise BadRequest(f"the request is not a valid docwire.v1.SingleDocumentRequest: {exc}") from exc
            header = request.header
            has_endpoint = header.HasField("exec_endpoint")
            endpoint = normalize_endpoint(header.exec_endpoint) if has_endpoint else DEFAULT_ENDPOINT
            target = header.target_executor if header.HasField("target_executor") else None
            plan = self._plan(endpoint, target)
            serving = plan.executors if isinstance(plan, Route) else tuple(p.node for p in plan.nodes if p.serves)
            # The executor that binds the endpoint by name, else the first whose default serves it.
            candidates = sorted(serving, key=lambda n: not n.binds(endpoint))
            if not candidates:
                raise EndpointNotFound(f"no executor serves endpoint {endpoint!r}")
            node = candidates[0]
            timeout = header.timeout / 1000 if header.HasField("timeout") and header.timeout else None
            async for reply in self._pools[node.name].next_pool().stream_doc(raw, timeout, context.metadata()):
                yield reply
        finally:
            self._inflight.leave()
            self._release()

    async def dry_run(self) -> request_pb2.Status:
        """DryRun: SUCCESS when every replica of every executor answers, else ERROR naming the one that does not."""
        try:
            await asyncio.gather(*(pool.endpoints(timeout=5.0) for pool in self._pools.values()))
        except DocwireError as error:
            status = request_pb2.Status(code=request_pb2.Status.CODE_ERROR, description=str(error))
            status.exception.name = type(error).__name__
            status.exception.args.append(str(error))
            return status
        return request_pb2.Status(code=request_pb2.Status.CODE_SUCCESS, description="ready")

    def status(self) -> request_pb2.ServerInfo:
        """Status: the server's versions."""
        return request_pb2.ServerInfo(versions=self._versions())

    def drain(self) -> None:
        """Refuses new calls (GatewayUnavailable) and stops taking requests from open streams; those taken
        in are still answered (see ``stream``). ``drained`` waits for them."""
        self._draining.set()

    async def drained(self, timeout: float) -> bool:
        """Waits up to ``timeout`` seconds for the calls under way to end; whether they all did."""
        try:
            await asyncio.wait_for(self._no_calls.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Ends the Posts' streams (their requests are answered by now: see ``drained``) and closes the
        channels to the executors."""
        await self._post_streams.close()
        for pool in self._pools.values():
            await pool.close()


def _document_count(raw: bytes) -> int:
    """How many documents a serialized request carries, for metrics (0 when its ``data`` does not parse:
    that request fails with the parser's own error)."""
    try:
        return count_serialized_docs(raw)
    except ValueError:
        return 0
