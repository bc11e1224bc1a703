"""The GatewayService: one request type, routed along the Flow's chain of executors.

Documents are never decoded here: the gateway reads the header and parameters,
forwards the request bytes, and checks each reply's status. The reply to the
client is the gateway's route serialized in front of the last executor's reply:
protobuf merges concatenated messages and appends repeated fields, so the
gateway's route comes first without re-encoding the documents.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format
from google.protobuf.message import DecodeError

from docwire.gateway.replica_streams import UpstreamStreams
from docwire.gateway.router import ExecutorNode, plan_route, scope_parameters
from docwire.gateway.upstream import ReplicaPool
from docwire.transports.grpc_server import abort, call_metadata
from docwire_contract.conventions import DEFAULT_ENDPOINT, RESULTS_KEY, normalize_endpoint
from docwire_contract.errors import BadRequest, DocwireError, EndpointNotFound, GatewayUnavailable
from docwire_contract.methods import GATEWAY_SERVICE
from docwire_contract.v1 import request_pb2

__all__ = ["GatewayServicer"]

logger = logging.getLogger("docwire.gateway")

GATEWAY_ROUTE = "gateway"


def _parse_request(raw: bytes) -> request_pb2.DataRequest:
    try:
        return request_pb2.DataRequest.FromString(raw)
    except DecodeError as exc:
        raise BadRequest(f"the request is not a valid docwire.v1.DataRequest: {exc}") from exc


class GatewayServicer:
    """Serves a chain of executors as one Flow."""

    def __init__(self, pools: Sequence[ReplicaPool], prefetch: int, versions: dict[str, str]) -> None:
        self._pools = {pool.node.name: pool for pool in pools}
        self._chain: list[ExecutorNode] = [pool.node for pool in pools]
        self._names = set(self._pools)
        self._prefetch = prefetch
        self._versions = versions
        self._endpoints = request_pb2.EndpointsInfo()
        self._draining = asyncio.Event()

    async def discover(self, timeout: float) -> None:
        """Asks every executor for its endpoints (waiting for them to be up) and builds the Flow's table."""
        infos = [await pool.endpoints(timeout, wait_for_ready=True) for pool in self._pools.values()]
        self._chain = [
            ExecutorNode(node.name, node.addresses, frozenset(info.endpoints))
            for node, info in zip(self._chain, infos, strict=True)
        ]
        self._endpoints = _merge_endpoints(infos)

    @property
    def endpoints_info(self) -> request_pb2.EndpointsInfo:
        """The Flow's endpoints and their schemas, as discovered."""
        return self._endpoints

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler to register on a grpc.aio server."""
        return grpc.method_handlers_generic_handler(GATEWAY_SERVICE, self.method_handlers())

    def method_handlers(self) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
        """Each rpc's handler by method name: what the gRPC server serves and other transports call in-process."""
        return {
            "Post": grpc.unary_unary_rpc_method_handler(self.post),
            "Stream": grpc.stream_stream_rpc_method_handler(self.stream),
            "StreamDoc": grpc.unary_stream_rpc_method_handler(self.stream_doc),
            "DryRun": grpc.unary_unary_rpc_method_handler(
                self.dry_run,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=request_pb2.Status.SerializeToString,
            ),
            "Status": grpc.unary_unary_rpc_method_handler(
                self.status,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=request_pb2.ServerInfo.SerializeToString,
            ),
            "Endpoints": grpc.unary_unary_rpc_method_handler(
                self.endpoints,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=request_pb2.EndpointsInfo.SerializeToString,
            ),
        }

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
        request = _parse_request(raw)
        try:
            return await self._route(request, raw, start, metadata, streams)
        except DocwireError as error:
            if not errors_in_reply:
                raise
            return _error_reply(request, error, start)

    async def _route(
        self,
        request: request_pb2.DataRequest,
        raw: bytes,
        start: int,
        metadata: Sequence[tuple[str, str]],
        streams: UpstreamStreams | None,
    ) -> bytes:
        header = request.header
        endpoint = normalize_endpoint(header.exec_endpoint) if header.HasField("exec_endpoint") else DEFAULT_ENDPOINT
        parameters = json_format.MessageToDict(request.parameters) if request.HasField("parameters") else None
        target = header.target_executor if header.HasField("target_executor") else None
        route = plan_route(self._chain, endpoint, target, parameters)
        timeout = header.timeout / 1000 if header.HasField("timeout") and header.timeout else None
        deadline = None if timeout is None else time.monotonic() + timeout

        current = raw
        reply = request
        for node in route.executors:
            if route.scoped:
                scoped = scope_parameters(parameters or {}, node.name, self._names)
                current = _with_parameters(reply, _with_results(scoped, reply))
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            current = await self._pools[node.name].process(current, remaining, metadata, streams)
            reply = request_pb2.DataRequest.FromString(current)
            if reply.header.status.code != request_pb2.Status.CODE_SUCCESS:
                break
        if route.scoped:
            current = _with_parameters(reply, _with_results(parameters or {}, reply))
        return _gateway_route(start).SerializeToString() + current

    async def post(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        """Post: one request, one reply."""
        try:
            return await self.handle(raw, metadata=call_metadata(context))
        except DocwireError as error:
            await abort(context, error)

    async def stream(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[bytes]:
        """Stream: handles requests concurrently, at most ``prefetch`` in flight, replies as they finish.

        When the gateway drains (it is stopping), it stops reading: the requests it took
        in are answered, then the call ends with UNAVAILABLE. A request without a reply
        was never forwarded, so the client may send it again without it running twice.
        """
        slots = asyncio.Semaphore(self._prefetch)
        replies: asyncio.Queue[bytes | DocwireError | None] = asyncio.Queue()
        in_flight: set[asyncio.Task[None]] = set()
        metadata = call_metadata(context)
        streams = UpstreamStreams(metadata)
        cut_short = False

        async def handle_one(raw: bytes) -> None:
            try:
                await replies.put(await self.handle(raw, errors_in_reply=True, metadata=metadata, streams=streams))
            except DocwireError as error:  # unparsable bytes: no request id to answer
                await replies.put(error)

        async def read_requests() -> None:
            nonlocal cut_short
            async for raw in requests:
                await slots.acquire()
                if self._draining.is_set():  # read after the drain began (a stream opened meanwhile): not forwarded
                    cut_short = True
                    return
                task = asyncio.create_task(handle_one(raw))
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
        try:
            while (item := await replies.get()) is not None:
                slots.release()
                if isinstance(item, DocwireError):
                    await abort(context, item)
                yield item
            await feeder
            if cut_short:
                await abort(context, GatewayUnavailable("the gateway is stopping; send the unanswered requests again"))
        finally:
            for task in (feeder, *in_flight):
                task.cancel()
            streams.cancel()

    async def stream_doc(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
        """StreamDoc: forwards to the executor that serves the generator endpoint, reply by reply."""
        try:
            request = request_pb2.SingleDocumentRequest.FromString(raw)
        except DecodeError as exc:
            await abort(context, BadRequest(f"the request is not a valid docwire.v1.SingleDocumentRequest: {exc}"))
        header = request.header
        endpoint = normalize_endpoint(header.exec_endpoint) if header.HasField("exec_endpoint") else DEFAULT_ENDPOINT
        target = header.target_executor if header.HasField("target_executor") else None
        try:
            route = plan_route(self._chain, endpoint, target, None)
            # The executor that binds the endpoint by name, else the first whose default serves it.
            candidates = sorted(route.executors, key=lambda n: not n.binds(endpoint))
            if not candidates:
                raise EndpointNotFound(f"no executor serves endpoint {endpoint!r}")
            node = candidates[0]
            timeout = header.timeout / 1000 if header.HasField("timeout") and header.timeout else None
            async for reply in self._pools[node.name].stream_doc(raw, timeout, call_metadata(context)):
                yield reply
        except DocwireError as error:
            await abort(context, error)

    async def dry_run(self, _: empty_pb2.Empty, context: grpc.aio.ServicerContext[Any, Any]) -> request_pb2.Status:
        """DryRun: SUCCESS when every replica of every executor answers, else ERROR naming the one that does not."""
        try:
            await asyncio.gather(*(pool.endpoints(timeout=5.0) for pool in self._pools.values()))
        except DocwireError as error:
            status = request_pb2.Status(code=request_pb2.Status.CODE_ERROR, description=str(error))
            status.exception.name = type(error).__name__
            status.exception.args.append(str(error))
            return status
        return request_pb2.Status(code=request_pb2.Status.CODE_SUCCESS, description="ready")

    async def status(self, _: empty_pb2.Empty, context: grpc.aio.ServicerContext[Any, Any]) -> request_pb2.ServerInfo:
        """Status: the server's versions."""
        return request_pb2.ServerInfo(versions=self._versions)

    async def endpoints(
        self, _: empty_pb2.Empty, context: grpc.aio.ServicerContext[Any, Any]
    ) -> request_pb2.EndpointsInfo:
        """Endpoints: the Flow's endpoints with input schemas of the first and output of the last executor."""
        return self._endpoints

    def drain(self) -> None:
        """Stops taking requests from open streams; those taken in are still answered (see ``stream``)."""
        self._draining.set()

    async def close(self) -> None:
        """Closes the channels to the executors."""
        for pool in self._pools.values():
            await pool.close()


def _gateway_route(start: int) -> request_pb2.DataRequest:
    """A message holding only the gateway's route, from ``start`` until now."""
    gateway = request_pb2.DataRequest()
    route = gateway.routes.add(executor=GATEWAY_ROUTE)
    route.start_time.FromNanoseconds(start)
    route.end_time.FromNanoseconds(time.time_ns())
    return gateway


def _error_reply(request: request_pb2.DataRequest, error: DocwireError, start: int) -> bytes:
    """The request sent back with an error status naming the failure; its documents are returned untouched."""
    status = request.header.status
    status.code = request_pb2.Status.CODE_ERROR
    status.description = str(error)
    status.exception.name = type(error).__name__
    status.exception.args.append(str(error))
    return _gateway_route(start).SerializeToString() + request.SerializeToString()


def _with_parameters(request: request_pb2.DataRequest, parameters: dict[str, Any]) -> bytes:
    copy = request_pb2.DataRequest()
    copy.CopyFrom(request)
    copy.parameters.Clear()
    copy.parameters.update(parameters)
    return copy.SerializeToString()


def _with_results(parameters: dict[str, Any], reply: request_pb2.DataRequest) -> dict[str, Any]:
    """``parameters`` plus the results executors put in ``reply`` so far (scoping must not drop them)."""
    returned = json_format.MessageToDict(reply.parameters) if reply.HasField("parameters") else {}
    if RESULTS_KEY not in returned:
        return parameters
    return {**parameters, RESULTS_KEY: returned[RESULTS_KEY]}


def _merge_endpoints(infos: Sequence[request_pb2.EndpointsInfo]) -> request_pb2.EndpointsInfo:
    merged = request_pb2.EndpointsInfo()
    schemas: dict[str, Any] = {}
    for info in infos:
        for endpoint, schema in json_format.MessageToDict(info.schemas).items():
            entry = schemas.setdefault(endpoint, dict(schema))
            entry["output"] = schema.get("output", entry.get("output"))
    merged.endpoints.extend(sorted({e for info in infos for e in info.endpoints}))
    merged.schemas.update(schemas)
    return merged
