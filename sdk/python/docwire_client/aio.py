"""The asyncio client. Written once; the sync ``Client`` drives it on a private event loop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

import grpc
from docarray import BaseDoc
from google.protobuf import empty_pb2, json_format

from docwire.v1 import request_pb2
from docwire_client.codec import decode_doc, encode_doc
from docwire_client.doc_types import return_doc_class
from docwire_client.errors import DocwireError, error_from_rpc
from docwire_client.inputs import Inputs, RequestSpec, batches, build_request
from docwire_client.methods import GatewayMethods
from docwire_client.response import Response
from docwire_client.target import Target, parse_target

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "AsyncClient"]

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


async def _chain(
    first: list[BaseDoc], second: list[BaseDoc], rest: AsyncIterator[list[BaseDoc]]
) -> AsyncIterator[list[BaseDoc]]:
    yield first
    yield second
    async for batch in rest:
        yield batch


class AsyncClient:
    """Talks to a docwire gateway over gRPC with asyncio.

    Args:
        host: a host name, ``host:port``, or a URI such as ``grpc://host:port`` (``grpcs://`` for TLS).
        port: the port, unless the host gives it.
        protocol: ``"grpc"``, unless the URI gives it.
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
        if self.target.protocol != "grpc":
            raise ValueError(f"protocol {self.target.protocol!r} is not available in this client yet; use 'grpc'")
        self._root_certificates = root_certificates
        self._options = [
            ("grpc.max_receive_message_length", max_message_size),
            ("grpc.max_send_message_length", max_message_size),
        ]
        self._channel: grpc.aio.Channel | None = None

    @property
    def channel(self) -> grpc.aio.Channel:
        """The one channel this client uses, opened on first use."""
        if self._channel is None:
            address = self.target.address
            if self.target.tls:
                credentials = grpc.ssl_channel_credentials(root_certificates=self._root_certificates)
                self._channel = grpc.aio.secure_channel(address, credentials, options=self._options)
            else:
                self._channel = grpc.aio.insecure_channel(address, options=self._options)
        return self._channel

    def _error(self, exc: grpc.aio.AioRpcError) -> DocwireError:
        return error_from_rpc(exc, self.target.uri)

    async def responses(
        self,
        on: str,
        inputs: Inputs = None,
        *,
        parameters: Mapping[str, Any] | None = None,
        target_executor: str | None = None,
        request_size: int = 100,
        return_type: Any = None,
        results_in_order: bool = False,
        prefetch: int = 100,
        timeout: float | None = None,
    ) -> AsyncIterator[Response[Any]]:
        """Sends the inputs as requests and yields every reply.

        Inputs that fit in one request go as one unary call. Longer inputs stream over
        one bidi call: sending and receiving overlap, at most ``prefetch`` requests are
        in flight, so memory stays bounded however long the input is. Replies come as
        they finish, or in input order with ``results_in_order``.

        Raises:
            DocwireError: the call failed (the server is unreachable, a bad request, ...).
        """
        if prefetch < 1:
            raise ValueError(f"prefetch must be at least 1, not {prefetch}")
        spec = RequestSpec(on, parameters, target_executor, None if timeout is None else int(timeout * 1000))
        doc_type = return_doc_class(return_type)
        pending_batches = batches(inputs, request_size)
        first = await anext(pending_batches)
        second = await anext(pending_batches, None)
        if second is None:
            yield await self._post_one(spec, first, doc_type)
            return
        async for response in self._stream(
            spec, _chain(first, second, pending_batches), doc_type, results_in_order, prefetch
        ):
            yield response

    async def _post_one(self, spec: RequestSpec, batch: list[BaseDoc], doc_type: type[BaseDoc]) -> Response[Any]:
        """One request as one unary Post call: the shortest path for a single batch."""
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, request_pb2.DataRequest] = self.channel.unary_unary(
            GatewayMethods.POST, response_deserializer=request_pb2.DataRequest.FromString
        )
        _, raw = build_request(spec, batch)
        try:
            message: request_pb2.DataRequest = await call(raw)
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc) from None
        return Response(message, doc_type)

    async def _stream(
        self,
        spec: RequestSpec,
        request_batches: AsyncIterator[list[BaseDoc]],
        doc_type: type[BaseDoc],
        results_in_order: bool,
        prefetch: int,
    ) -> AsyncIterator[Response[Any]]:
        """Streams batches over one bidi call, at most ``prefetch`` in flight, yielding every reply."""
        slots = asyncio.Semaphore(prefetch)
        order: dict[str, int] = {}  # request id -> input position, for results_in_order
        positions = itertools.count()
        call: grpc.aio.StreamStreamCall[bytes, request_pb2.DataRequest] = self.channel.stream_stream(
            GatewayMethods.STREAM, response_deserializer=request_pb2.DataRequest.FromString
        )()
        failure: list[BaseException] = []

        async def send() -> None:
            try:
                async for batch in request_batches:
                    await slots.acquire()
                    request_id, raw = build_request(spec, batch)
                    order[request_id] = next(positions)
                    await call.write(raw)
                await call.done_writing()
            except (grpc.RpcError, asyncio.InvalidStateError):
                pass  # the call failed; the reading side reports why
            except BaseException as exc:  # the inputs failed: stop the call, report this instead
                failure.append(exc)
                call.cancel()
                raise

        sender = asyncio.create_task(send())
        pending: dict[int, Response[Any]] = {}
        next_index = 0
        try:
            async for message in call:
                slots.release()
                response = Response(message, doc_type)
                if not results_in_order:
                    yield response
                    continue
                pending[order.pop(message.header.request_id)] = response
                while next_index in pending:
                    yield pending.pop(next_index)
                    next_index += 1
            await sender
        except grpc.aio.AioRpcError as exc:
            if failure:
                raise failure[0] from None
            raise self._error(exc) from None
        except asyncio.CancelledError:
            if failure:
                raise failure[0] from None
            raise
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def post(
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
    ) -> AsyncIterator[Any]:
        """Sends documents to endpoint ``on``; yields each reply's documents (or the replies).

        Args:
            on: the endpoint, for example ``"/index"``.
            inputs: a document, documents, a (async) generator of them, a function returning one, or None.
            parameters: parameters for the executors (``"<executor>__key"`` reaches only that executor).
            target_executor: a regular expression: only executors whose name matches see the request.
            request_size: documents per request.
            return_responses: yield ``Response`` objects instead of documents.
            return_type: the document class (or ``DocList[X]``) replies are decoded into.
            results_in_order: yield in input order even when replies finish out of order.
            prefetch: the most requests in flight at once.
            timeout: seconds each request may take.

        Raises:
            ExecutorError: an executor raised (the error names it, with its traceback).
            DocwireError: the call failed.
        """
        async for response in self.responses(
            on,
            inputs,
            parameters=parameters,
            target_executor=target_executor,
            request_size=request_size,
            return_type=return_type,
            results_in_order=results_in_order,
            prefetch=prefetch,
            timeout=timeout,
        ):
            if response.is_error:
                raise response.error()
            yield response if return_responses else response.docs

    async def stream_doc(
        self,
        on: str,
        inputs: BaseDoc,
        *,
        parameters: Mapping[str, Any] | None = None,
        return_type: Any = None,
        timeout: float | None = None,
    ) -> AsyncIterator[BaseDoc]:
        """Sends one document to a generator endpoint and yields each document as it is produced.

        Raises:
            ExecutorError: the endpoint raised.
            DocwireError: the call failed.
        """
        request = request_pb2.SingleDocumentRequest()
        request.header.exec_endpoint = on
        if parameters:
            request.parameters.update(dict(parameters))
        request.document.CopyFrom(encode_doc(inputs))
        doc_type = return_doc_class(return_type) if return_type is not None else type(inputs)
        call = self.channel.unary_stream(
            GatewayMethods.STREAM_DOC,
            request_serializer=request_pb2.SingleDocumentRequest.SerializeToString,
            response_deserializer=request_pb2.SingleDocumentRequest.FromString,
        )
        try:
            async for reply in call(request, timeout=timeout):
                if reply.header.status.code != request_pb2.Status.CODE_SUCCESS:
                    carrier = request_pb2.DataRequest(header=reply.header)
                    raise Response(carrier, doc_type).error()
                yield decode_doc(reply.document, doc_type)
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc) from None

    async def dry_run(self, timeout: float = 5.0) -> request_pb2.Status:
        """Asks the gateway whether every executor answers; returns the Status it reports.

        Raises:
            DocwireError: the gateway cannot be reached.
        """
        call = self.channel.unary_unary(
            GatewayMethods.DRY_RUN,
            request_serializer=empty_pb2.Empty.SerializeToString,
            response_deserializer=request_pb2.Status.FromString,
        )
        try:
            status: request_pb2.Status = await call(empty_pb2.Empty(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc) from None
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
        call = self.channel.unary_unary(
            GatewayMethods.ENDPOINTS,
            request_serializer=empty_pb2.Empty.SerializeToString,
            response_deserializer=request_pb2.EndpointsInfo.FromString,
        )
        try:
            info: request_pb2.EndpointsInfo = await call(empty_pb2.Empty(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._error(exc) from None
        schemas = json_format.MessageToDict(info.schemas)
        return {endpoint: schemas.get(endpoint, {}) for endpoint in info.endpoints}

    async def close(self) -> None:
        """Closes the channel."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
