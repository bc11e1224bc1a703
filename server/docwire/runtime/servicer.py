"""The ExecutorService of one worker: decode a request, run the endpoint, encode the reply.

Handlers take and return raw bytes, so a malformed request becomes INVALID_ARGUMENT
with a message a person can act on instead of grpcio's generic deserialization error.

A batch endpoint whose method never reads its documents (see
``docwire.executor.docs_access``) gets an empty ``DocList`` instead of decoded ones
when the request's document bytes are exactly what encoding their decoded documents
would give back (``docwire_contract.codec.reencodes_unchanged``); unless it returns new
documents, the reply carries those bytes untouched. Same reply, no decode and no encode.

Methods are called through an ``EndpointCaller`` (``docwire.runtime.invocation``): within the
replica's ``max_concurrency``, and grouped with other requests where dynamic batching is on.
A request carries its deadline there: the gRPC call's, and at most ``header.timeout`` from its
arrival here (a ProcessStream call has no deadline of its own).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import grpc
from docarray import DocList
from google.protobuf import empty_pb2, json_format, timestamp_pb2
from google.protobuf.message import DecodeError

from docwire.executor.base import BoundEndpoint, Executor
from docwire.executor.docs_access import never_reads_docs, tracing
from docwire.executor.sync_runner import SyncRunner
from docwire.observability.observer import ExecutorObserver
from docwire.runtime.batching import USER_CODE_FAILURES
from docwire.runtime.call_splice import SplicedCall, data_pieces, spliced_call
from docwire.runtime.concurrency import Deadline, deadline_after
from docwire.runtime.invocation import EndpointCaller, MethodFailed
from docwire.runtime.parameters import endpoint_parameters
from docwire.runtime.status import error_status
from docwire.transports.grpc_server import abort, call_metadata
from docwire_contract.codec import (
    LENGTH_DELIMITED,
    decode_doc,
    decode_docs,
    encode_doc,
    encode_docs,
    field_key,
    reencodes_unchanged,
    varint_bytes,
)
from docwire_contract.conventions import DEFAULT_ENDPOINT, DEFAULT_MAX_MESSAGE_BYTES, RESULTS_KEY, normalize_endpoint
from docwire_contract.doc_types import doclist_of
from docwire_contract.errors import (
    BadRequest,
    DocwireError,
    EndpointNotFound,
    MessageTooLarge,
    ParametersSchemaError,
    RequestTimeout,
)
from docwire_contract.methods import EXECUTOR_SERVICE
from docwire_contract.v1 import executor_pb2, request_pb2

__all__ = ["ExecutorServicer"]

logger = logging.getLogger("docwire.executor")

#: The key (field number, wire type 2) of ``ProcessResult.reply``.
_REPLY_TAG = field_key(executor_pb2.ProcessResult.REPLY_FIELD_NUMBER, LENGTH_DELIMITED)

_M = TypeVar("_M", request_pb2.DataRequest, request_pb2.SingleDocumentRequest)
_T = TypeVar("_T")

#: Serialized bytes, or a view into the bytes a call came with.
Reply = bytes | memoryview


class ExecutorServicer:
    """Serves one Executor instance over the ExecutorService rpcs.

    Args:
        executor: the executor instance.
        max_message_bytes: the largest reply it sends.
        max_concurrency: the most method calls in flight at once (None: no bound).
        dynamic_batching: ``uses_dynamic_batching``: endpoint -> policy mapping.
        observer: its metrics and traces (docwire.observability); None: off.

    Raises:
        ValueError: ``max_concurrency`` or ``dynamic_batching`` is invalid for this executor.
    """

    def __init__(
        self,
        executor: Executor,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        *,
        max_concurrency: int | None = None,
        dynamic_batching: Mapping[str, Any] | None = None,
        observer: ExecutorObserver | None = None,
    ) -> None:
        self._executor = executor
        self._observer = observer  # metrics and traces (docwire.observability); None: off
        self._max_message_bytes = max_message_bytes
        # Sync endpoint methods run here, one at a time: off the event loop, and never
        # concurrently with each other (models are rarely thread-safe). Replicas add parallelism.
        self._pool = SyncRunner(name=executor.runtime_args.name)
        self._endpoints_info: request_pb2.EndpointsInfo | None = None  # built on the first Endpoints call
        self._caller = EndpointCaller(
            executor, self._pool, max_concurrency=max_concurrency, dynamic_batching=dynamic_batching
        )
        self._name = executor.runtime_args.name
        self._result_key = f"{self._name}/rep-{executor.runtime_args.replica_id}"

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler to register on a grpc.aio server."""
        return grpc.method_handlers_generic_handler(
            EXECUTOR_SERVICE,
            {
                "Process": grpc.unary_unary_rpc_method_handler(self.process),
                "ProcessStream": grpc.stream_stream_rpc_method_handler(self.process_stream),
                "StreamDoc": grpc.unary_stream_rpc_method_handler(self.stream_doc),
                "Endpoints": grpc.unary_unary_rpc_method_handler(
                    self.endpoints,
                    request_deserializer=empty_pb2.Empty.FromString,
                    response_serializer=request_pb2.EndpointsInfo.SerializeToString,
                ),
            },
        )

    async def process(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        """Process: runs the endpoint the header names on the request's documents."""
        request = await self._parse(request_pb2.DataRequest, raw, context)
        deadline = _deadline_of(request.header, context.time_remaining())
        try:
            return await self._process(request, context, deadline)
        except DocwireError as exc:  # documents that do not decode or fit the schema; a reply over the limit
            await abort(context, exc)

    async def process_stream(
        self, calls: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[bytes]:
        """ProcessStream: Process for each call of the stream, each result sent when its call is done."""
        results: asyncio.Queue[bytes | BadRequest | None] = asyncio.Queue()

        async def run(raw: bytes) -> None:
            try:
                results.put_nowait(await self._result_of(raw, context))
            except BadRequest as exc:  # not a ProcessCall: the caller is not a docwire gateway
                results.put_nowait(exc)

        async def take_calls() -> None:
            async with asyncio.TaskGroup() as calls_running:
                async for raw in calls:
                    calls_running.create_task(run(raw))

        taker = asyncio.create_task(take_calls())
        taker.add_done_callback(lambda _: results.put_nowait(None))  # every result is queued by then
        try:
            while (result := await results.get()) is not None:
                if isinstance(result, BadRequest):
                    await abort(context, result)
                yield result
            await taker
        finally:
            taker.cancel()

    async def _result_of(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        """The serialized ProcessResult of one serialized ProcessCall."""
        spliced = spliced_call(raw)
        if spliced is not None:  # the documents stay where they came (``call_splice``)
            result = executor_pb2.ProcessResult(sequence=spliced.sequence)
            deadline = _deadline_of(spliced.head.header, None)
            serving: Awaitable[list[Reply]] = self._serve_spliced(spliced, context, deadline)
        else:
            try:
                call = executor_pb2.ProcessCall.FromString(raw)
            except DecodeError as exc:
                raise BadRequest(f"a call is not a valid docwire.v1.ProcessCall: {exc}") from None
            result = executor_pb2.ProcessResult(sequence=call.sequence)
            deadline = _deadline_of(call.request.header, None)
            trace = _call_trace(call.traceparent, call.tracestate)
            serving = self._whole(self._process(call.request, context, deadline, trace))
        try:
            reply = await serving
        except DocwireError as exc:  # what Process aborts its call with
            result.error.code, result.error.error_class = exc.grpc_code.value[0], type(exc).__name__
            result.error.details = str(exc)
            return result.SerializeToString()
        except Exception as exc:  # a bug here: Process would end its call with UNKNOWN
            logger.exception("%s failed to process a request", self._name)
            result.error.code, result.error.details = grpc.StatusCode.UNKNOWN.value[0], f"{type(exc).__name__}: {exc}"
            return result.SerializeToString()
        # The reply is appended as field 2 by hand: its documents are copied once, here.
        size = sum(map(len, reply))
        return b"".join((result.SerializeToString(), _REPLY_TAG, varint_bytes(size), *reply))

    @staticmethod
    async def _whole(serving: Awaitable[bytes]) -> list[Reply]:
        return [await serving]

    async def _process(
        self,
        request: request_pb2.DataRequest,
        context: grpc.aio.ServicerContext[Any, Any],
        deadline: Deadline,
        trace: tuple[tuple[str, str], ...] | None = None,
    ) -> bytes:
        """``_serve``, observed when metrics or traces are on (``trace``: the request's own trace context)."""
        if self._observer is None:
            return await self._serve(request, context, deadline)
        return await self._observed(request, context, trace, functools.partial(self._serve, request, context, deadline))

    async def _serve(
        self, request: request_pb2.DataRequest, context: grpc.aio.ServicerContext[Any, Any], deadline: Deadline
    ) -> bytes:
        """The serialized reply to ``request``.

        Raises:
            BadRequest: the documents do not decode, or do not fit the endpoint's schema; the parameters do
                not fit its model (ParametersSchemaError).
            MessageTooLarge: the reply is over the message size limit.
            RequestTimeout: the deadline passed before the method ran.
        """
        form = request.data.WhichOneof("documents")
        docs = request.data.docs.SerializeToString() if form == "docs" else request.data.docs_bytes
        encoded = await self._answer(request, docs, context, deadline)
        if encoded is None:
            pass  # the request's documents go back as they came
        elif form == "docs":
            request.data.docs.ParseFromString(encoded)
        else:
            request.data.docs_bytes = encoded
        reply = request.SerializeToString()
        self._check_size(len(reply))
        return reply

    async def _serve_spliced(
        self, call: SplicedCall, context: grpc.aio.ServicerContext[Any, Any], deadline: Deadline
    ) -> list[Reply]:
        """``_serve`` for a request read around its documents (``call_splice``): the reply's pieces, in order;
        observed as ``_process`` observes a whole one."""
        if self._observer is None:
            return await self._reply_pieces(call.head, call.docs, context, deadline)
        trace = _call_trace(call.traceparent, call.tracestate)
        serving = functools.partial(self._reply_pieces, call.head, call.docs, context, deadline)
        return await self._observed(call.head, context, trace, serving, call.docs)

    async def _observed(
        self,
        request: request_pb2.DataRequest,
        context: grpc.aio.ServicerContext[Any, Any],
        trace: tuple[tuple[str, str], ...] | None,
        serving: Callable[[], Awaitable[_T]],
        docs_bytes: memoryview | None = None,
    ) -> _T:
        """``serving()`` under the observer, which reads the request's trace context in ``trace`` (its
        ProcessCall's) or else in the call's metadata; ``docs_bytes``: the documents of a head-only ``request``."""
        assert self._observer is not None
        metadata = call_metadata(context) if trace is None else trace
        return await self._observer.observe(request, metadata, serving, docs_bytes)

    async def _reply_pieces(
        self,
        head: request_pb2.DataRequest,
        docs: memoryview,
        context: grpc.aio.ServicerContext[Any, Any],
        deadline: Deadline,
    ) -> list[Reply]:
        encoded = await self._answer(head, docs, context, deadline)
        reply = [head.SerializeToString(), *data_pieces(docs if encoded is None else encoded)]
        self._check_size(sum(map(len, reply)))
        return reply

    def _check_size(self, size: int) -> None:
        if size > self._max_message_bytes:  # checked here, so a ProcessStream call survives it
            raise MessageTooLarge(f"Sent message larger than max ({size} vs. {self._max_message_bytes})")

    async def _answer(
        self,
        request: request_pb2.DataRequest,
        docs: Reply,
        context: grpc.aio.ServicerContext[Any, Any],
        deadline: Deadline,
    ) -> bytes | None:
        """Runs the endpoint ``request`` names on ``docs`` (its serialized documents), its route stamped;
        returns the reply's documents, None when they are the request's."""
        route = request.routes.add(executor=self._name)
        _stamp(route.start_time)
        bound = self._executor.resolve(_endpoint_of(request.header))
        encoded = None if bound is None else await self._run(request, docs, bound, route, context, deadline)
        _stamp(route.end_time)
        return encoded

    async def _run(
        self,
        request: request_pb2.DataRequest,
        raw_docs: Reply,
        bound: BoundEndpoint,
        route: request_pb2.Route,
        context: grpc.aio.ServicerContext[Any, Any],
        deadline: Deadline,
    ) -> bytes | None:
        """The method's documents, encoded (None: the request's own, unchanged or never read)."""
        sig = bound.signature
        if self._docs_unseen(bound) and reencodes_unchanged(raw_docs, sig.input_type):
            docs = doclist_of(sig.input_type)  # never read: the request's bytes stand for them
            untouched: DocList[Any] | None = docs
        else:
            untouched = None
            # BadRequest: unparsable, or not fitting the schema
            docs = decode_docs(raw_docs if isinstance(raw_docs, bytes) else bytes(raw_docs), sig.input_type)
        parameters = json_format.MessageToDict(request.parameters) if request.HasField("parameters") else {}
        # ParametersSchemaError: the caller's error, raised before the method runs (not in the reply as the method's)
        user_parameters = endpoint_parameters(bound, {k: v for k, v in parameters.items() if k != RESULTS_KEY})
        metadata = dict(call_metadata(context))
        try:
            outcome = await self._caller.run(bound, docs, user_parameters, metadata, deadline)
            encoded = None if outcome.docs is untouched else encode_docs(outcome.docs)
        except RequestTimeout:  # the runtime's: not run; the call's error, not the method's
            raise
        except Exception as exc:  # user code: its failure travels in the reply
            failure = exc.cause if isinstance(exc, MethodFailed) else exc
            logger.error("%s failed on %s", self._name, bound.endpoint, exc_info=failure)
            status = error_status(failure, self._name)
            request.header.status.CopyFrom(status)
            route.status.CopyFrom(status)
            return None
        if outcome.result is not None:
            results = parameters.setdefault(RESULTS_KEY, {})
            results[self._result_key] = outcome.result
            request.parameters.Clear()
            request.parameters.update(parameters)
        return encoded

    def _docs_unseen(self, bound: BoundEndpoint) -> bool:
        """Whether this call of a batch endpoint cannot look at its documents (see the module docstring)."""
        sig = bound.signature
        if sig.single_doc or sig.is_generator:
            return False
        if self._caller.batched(bound):
            return False
        return never_reads_docs(self._executor.method(bound)) and not tracing()

    async def stream_doc(self, raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
        """StreamDoc: runs a generator endpoint on one document, one reply per yielded document."""
        request = await self._parse(request_pb2.SingleDocumentRequest, raw, context)
        endpoint = _endpoint_of(request.header)
        bound = self._executor.resolve(endpoint)
        if bound is None:
            await abort(context, EndpointNotFound(f"no endpoint {endpoint}; endpoints: {self._endpoint_list()}"))
        try:
            doc = decode_doc(request.document, bound.signature.input_type)
        except BadRequest as exc:
            await abort(context, exc)
        try:
            parameters = endpoint_parameters(
                bound, json_format.MessageToDict(request.parameters) if request.HasField("parameters") else {}
            )
        except ParametersSchemaError as exc:
            await abort(context, exc)
        metadata = dict(call_metadata(context))
        deadline = _deadline_of(request.header, context.time_remaining())
        reply = request_pb2.SingleDocumentRequest()
        reply.header.CopyFrom(request.header)
        try:
            if bound.signature.is_generator:
                async with self._caller.limit.slot(deadline):
                    async for produced in self._caller.stream(bound, doc, parameters, metadata):
                        reply.document.CopyFrom(encode_doc(produced))
                        yield reply.SerializeToString()
                return
            batch = doclist_of(bound.signature.input_type, [doc])
            outcome = await self._caller.run(bound, batch, parameters, metadata, deadline)
            for produced in outcome.docs:
                reply.document.CopyFrom(encode_doc(produced))
                yield reply.SerializeToString()
        except RequestTimeout as exc:  # the runtime's: not run
            await abort(context, exc)
        except USER_CODE_FAILURES as exc:  # user code: its failure travels in the last reply
            failure = exc.cause if isinstance(exc, MethodFailed) else exc
            logger.error("%s failed on %s", self._name, endpoint, exc_info=failure)
            reply.ClearField("document")
            reply.header.status.CopyFrom(error_status(failure, self._name))
            yield reply.SerializeToString()

    async def drain(self) -> None:
        """Runs the batches still open and waits for them (the server has stopped taking requests)."""
        await self._caller.close()

    def close(self) -> None:
        """Waits for the sync-method thread to finish what it is running."""
        self._pool.shutdown(wait=True)

    def _endpoint_list(self) -> str:
        return ", ".join(sorted(type(self._executor).endpoints)) or "(none)"

    async def endpoints(
        self, _: empty_pb2.Empty, context: grpc.aio.ServicerContext[Any, Any]
    ) -> request_pb2.EndpointsInfo:
        """Endpoints: every endpoint with its input, output and parameter JSON schemas (built once: ~20 ms)."""
        if self._endpoints_info is None:
            self._endpoints_info = endpoints_info(type(self._executor))
        return self._endpoints_info

    async def _parse(self, message_type: type[_M], raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> _M:
        try:
            return message_type.FromString(raw)
        except DecodeError as exc:
            error = BadRequest(f"the request is not a valid {message_type.DESCRIPTOR.full_name}: {exc}")
            await abort(context, error)


def _stamp(timestamp: timestamp_pb2.Timestamp) -> None:
    """``Timestamp.GetCurrentTime()`` without its detour through ``datetime``."""
    timestamp.seconds, timestamp.nanos = divmod(time.time_ns(), 1_000_000_000)


def _call_trace(traceparent: str, tracestate: str) -> tuple[tuple[str, str], ...] | None:
    """A ProcessCall's own trace context as metadata, when the gateway sent one (a stream's metadata is sent once,
    with its first request's)."""
    return (("traceparent", traceparent), ("tracestate", tracestate)) if traceparent else None


def _deadline_of(header: request_pb2.Header, transport_remaining: float | None) -> Deadline:
    """When a request stops being worth running: its call's deadline, and at most ``header.timeout`` from now.

    ``header.timeout`` counts from when the client sent the request, so from here it gives a deadline
    no earlier than the true one: a request is never dropped while its client still waits.
    """
    own = header.timeout / 1000 if header.HasField("timeout") and header.timeout else None
    remaining = [r for r in (own, transport_remaining) if r is not None]
    return deadline_after(min(remaining)) if remaining else None


def _endpoint_of(header: request_pb2.Header) -> str:
    return normalize_endpoint(header.exec_endpoint) if header.HasField("exec_endpoint") else DEFAULT_ENDPOINT


def endpoints_info(executor_type: type[Executor]) -> request_pb2.EndpointsInfo:
    """The discovery answer for an executor class."""
    schemas: dict[str, Any] = {}
    for endpoint, bound in executor_type.endpoints.items():
        sig = bound.signature
        schemas[endpoint] = {
            "input": sig.input_type.model_json_schema(),
            "output": sig.output_type.model_json_schema(),
            "parameters": sig.parameters_model.model_json_schema() if sig.parameters_model else {},
            "is_generator": sig.is_generator,
            "is_singleton_doc": sig.single_doc,
        }
    info = request_pb2.EndpointsInfo(endpoints=sorted(executor_type.endpoints))
    # JSON round trip: schemas may hold values Struct cannot take directly (tuples, ints as keys).
    info.schemas.update(json.loads(json.dumps(schemas, default=str)))
    return info
