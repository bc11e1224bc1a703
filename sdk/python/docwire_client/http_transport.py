"""The client's HTTP/JSON transport: the gateway's ``google.api.http`` routes, over one keep-alive ``httpx`` pool.

The same ``Transport`` as ``GrpcTransport``, so ``AsyncClient`` drives either one unchanged:

- every request is one ``POST /post`` with a JSON body (``{"header": ..., "parameters": ..., "data": [...]}``);
  documents travel as plain objects (tensors in the gateway's compact ``{buffer, dtype, shape}`` form; replies
  carry them as nested lists) and replies are validated into ``return_type`` by pydantic. HTTP/1.1 has no
  bidi stream: ``stream=True`` and ``stream=False`` both send one request per call, ``prefetch`` of them in
  flight (one connection each);
- a reply carrying an executor's error (HTTP 500 with the whole reply) is a reply, for the callbacks;
  any other non-2xx answer raises the DocwireError its JSON body names (``errors.error_from_http``);
- connection errors are retried like gRPC's UNAVAILABLE (same ``RetryPolicy``);
- ``stream_doc`` reads the server-sent events of ``POST /{endpoint}`` (``Accept: text/event-stream``), or of
  ``POST /default`` for an endpoint only an executor's default serves (the gateway routes discovered names only).

Options with no HTTP meaning: ``compression`` is ignored (the server does not decode compressed request
bodies); ``metadata`` travels as HTTP headers, which the gateway hands to executors as their metadata.
``bytes`` fields travel as base64 text both ways, as protobuf's JSON mapping writes them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx
import numpy as np
import orjson
from docarray import BaseDoc
from google.protobuf import json_format

from docwire_client.inputs import RequestSpec
from docwire_client.loops import reusable_on_this_loop
from docwire_client.options import PostOptions
from docwire_client.response import Response
from docwire_client.target import Target
from docwire_client.transport import Transport
from docwire_contract.conventions import DEFAULT_ENDPOINT, normalize_endpoint
from docwire_contract.errors import DocwireError, GatewayUnavailable, RequestTimeout, error_from_http
from docwire_contract.v1 import request_pb2

__all__ = ["HttpTransport"]

D = TypeVar("D", bound=BaseDoc)

logger = logging.getLogger("docwire.client")

#: Connection-level failures a retry may follow: the server was not reached, or went away before answering.
_TRANSIENT = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def _json_default(value: Any) -> Any:
    """What orjson cannot write itself, in a request body: tensors in the gateway's compact form
    (``{"buffer": base64, "dtype", "shape"}``: ten times cheaper than nested number lists)."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return {"buffer": base64.b64encode(array.tobytes()).decode(), "dtype": array.dtype.str, "shape": array.shape}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)  # ids, urls and other str subclasses or scalars pydantic keeps as objects


def _header_message(obj: dict[str, Any], message: Any) -> Any:
    json_format.ParseDict(obj, message, ignore_unknown_fields=True)
    return message


class HttpTransport(Transport):
    """Calls a docwire gateway's HTTP/JSON transport over one ``httpx.AsyncClient`` (keep-alive).

    Args:
        target: where to connect (``http://`` or ``https://``).
        verify: what TLS verifies the server with: True (system CAs), or an SSL context trusting given CAs.
    """

    def __init__(self, target: Target, *, verify: bool | ssl.SSLContext = True) -> None:
        self.target = target
        host = f"[{target.host}]" if ":" in target.host and not target.host.startswith("[") else target.host
        self.base_url = f"{'https' if target.tls else 'http'}://{host}:{target.port}"
        self._verify = verify
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warned_compression = False

    @property
    def client(self) -> httpx.AsyncClient:
        """The connection pool, opened on first use in the running event loop."""
        if self._client is not None and not reusable_on_this_loop(self._loop, "its connections"):
            self._client = None  # its loop is gone, and its connections with it
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                verify=self._verify,
                # Replies may take as long as the executors do: requests carry their own deadline (header.timeout).
                timeout=httpx.Timeout(None, connect=10.0),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            )
            self._loop = asyncio.get_running_loop()
        return self._client

    def unreachable(self, exc: Exception) -> GatewayUnavailable:
        """The error a connection failure stands for."""
        error = GatewayUnavailable(f"cannot reach the server at {self.target.uri}: {type(exc).__name__}: {exc}")
        return error

    # -- requests ---------------------------------------------------------------------------------------------

    @staticmethod
    def build_request(spec: RequestSpec, docs: Sequence[BaseDoc]) -> tuple[str, bytes]:
        """One JSON ``POST /post`` body carrying ``docs``, and its request id."""
        request_id = uuid.uuid4().hex
        header: dict[str, Any] = {"requestId": request_id, "execEndpoint": spec.endpoint}
        if spec.target_executor is not None:
            header["targetExecutor"] = spec.target_executor
        if spec.timeout_ms is not None:
            header["timeout"] = spec.timeout_ms
        body: dict[str, Any] = {"header": header, "data": [doc.model_dump(warnings=False) for doc in docs]}
        if spec.parameters:
            body["parameters"] = dict(spec.parameters)
        return request_id, orjson.dumps(body, default=_json_default)

    def _headers(self, headers: Sequence[tuple[str, str]]) -> dict[str, str]:
        return dict(headers)

    async def _send_once(self, raw: bytes, doc_type: type[D], options: PostOptions) -> Response[D]:
        headers = {"content-type": "application/json", **self._headers(options.headers)}
        reply = await self.client.post("/post", content=raw, headers=headers)
        body = _json_body(reply)
        if isinstance(body, dict) and "header" in body:  # a reply, maybe carrying an executor's error
            docs = body.pop("data", None) or []  # decoded from JSON when read, not into the message
            return Response(_header_message(body, request_pb2.DataRequest()), doc_type, json_docs=docs)
        raise error_from_http(reply.status_code, body)

    async def post(
        self, raw: bytes, doc_type: type[D], options: PostOptions, request_id: str | None = None
    ) -> Response[D]:
        """Sends one request (``request_id`` unused: HTTP/1.1 has no call to share), retried on connection
        errors and on a gateway's 503 (starting, or stopping).

        Raises:
            DocwireError: the call failed (after its retries).
        """
        if options.send.compression is not None and not self._warned_compression:
            self._warned_compression = True
            logger.warning("compression=%r is ignored over HTTP", options.send.compression)
        retries = 0
        while True:
            try:
                return await self._send_once(raw, doc_type, options)
            except _TRANSIENT as exc:
                if retries + 1 >= options.retry.max_attempts:
                    raise self.unreachable(exc) from None
                retries += 1
                logger.warning("retry %d of a Post after: %s", retries, exc)
            except GatewayUnavailable as exc:  # a 503 from a gateway starting or stopping: the call never ran
                if retries + 1 >= options.retry.max_attempts:
                    raise
                retries += 1
                logger.warning("retry %d of a Post after: %s", retries, exc)
            except httpx.HTTPError as exc:
                raise self.unreachable(exc) from None
            await asyncio.sleep(options.retry.delay(retries))

    #: HTTP/1.1 has no bidi stream: ``stream=True`` sends like ``stream=False``, each request as its own call.
    stream = Transport.posts

    # -- server-sent events -----------------------------------------------------------------------------------

    async def stream_doc(
        self,
        on: str,
        doc: BaseDoc,
        parameters: Mapping[str, Any] | None,
        doc_type: type[D],
        timeout: float | None,
        headers: tuple[tuple[str, str], ...],
    ) -> AsyncGenerator[D, None]:
        """``POST /{endpoint}`` with ``Accept: text/event-stream``: one document in, each produced document out.

        Raises:
            ExecutorError: the endpoint raised.
            DocwireError: the call failed.
        """
        body: dict[str, Any] = {"header": {"execEndpoint": on}, "document": doc.model_dump(warnings=False)}
        if parameters:
            body["parameters"] = dict(parameters)
        raw = orjson.dumps(body, default=_json_default)
        path = "/" + on.lstrip("/")
        try:
            for _ in range(2):  # the endpoint's own path, then /default's when only a default serves it
                async with self.client.stream(
                    "POST",
                    path,
                    content=raw,
                    headers={
                        "accept": "text/event-stream",
                        "content-type": "application/json",
                        **self._headers(headers),
                    },
                    timeout=httpx.Timeout(timeout, connect=10.0),
                ) as reply:
                    if reply.status_code >= 400:
                        await reply.aread()
                        body = _json_body(reply)
                        if reply.status_code == 404 and (fallback := _default_path(on, path, body)) is not None:
                            path = fallback
                            continue
                        if isinstance(body, dict) and "header" in body:  # the executor failed before its first document
                            failed = _header_message(body["header"], request_pb2.Header())
                            raise Response(request_pb2.DataRequest(header=failed), doc_type).error()
                        raise error_from_http(reply.status_code, body)
                    events = _events(reply.aiter_lines())
                    async with contextlib.aclosing(events):  # an early stop closes the line reader too
                        async for event, data in events:
                            if event == "end":
                                return
                            if event == "error":
                                failure = orjson.loads(data)
                                if "header" in failure:  # an executor's exception, with its status
                                    failed = _header_message(failure["header"], request_pb2.Header())
                                    raise Response(request_pb2.DataRequest(header=failed), doc_type).error()
                                raise error_from_http(500, failure)
                            if event != "update":
                                continue
                            item = orjson.loads(data)
                            header = _header_message(item.get("header", {}), request_pb2.Header())
                            if header.status.code != request_pb2.Status.CODE_SUCCESS:
                                raise Response(request_pb2.DataRequest(header=header), doc_type).error()
                            yield doc_type.model_validate(item.get("document", {}))
                    return  # the stream ended without its end event: nothing more comes
        except httpx.TimeoutException as exc:
            raise _timeout(exc) from None
        except httpx.HTTPError as exc:
            raise self.unreachable(exc) from None

    # -- the rest ---------------------------------------------------------------------------------------------

    async def _get(self, path: str, timeout: float) -> Any:
        try:
            reply = await self.client.get(path, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise _timeout(exc) from None
        except httpx.HTTPError as exc:
            raise self.unreachable(exc) from None
        body = _json_body(reply)
        if reply.status_code >= 400:
            raise error_from_http(reply.status_code, body)
        return body

    async def dry_run(self, timeout: float) -> request_pb2.Status:
        """``GET /dry_run``: the Status of the whole Flow.

        Raises:
            DocwireError: the gateway cannot be reached.
        """
        status: request_pb2.Status = _header_message(await self._get("/dry_run", timeout), request_pb2.Status())
        return status

    async def endpoints(self, timeout: float) -> request_pb2.EndpointsInfo:
        """``GET /endpoints``: the Flow's endpoints and their schemas.

        Raises:
            DocwireError: the gateway cannot be reached.
        """
        info: request_pb2.EndpointsInfo = _header_message(
            await self._get("/endpoints", timeout), request_pb2.EndpointsInfo()
        )
        return info

    @property
    def http_pool(self) -> httpx.AsyncClient:
        """The connection pool (``client``): GraphQL calls share it."""
        return self.client

    async def close(self) -> None:
        """Closes the connections (a later call opens new ones), on the event loop they belong to."""
        client, self._client = self._client, None
        loop = self._loop
        if client is None or loop is None or loop.is_closed():
            return  # nothing opened, or its loop is gone (and its connections with it)
        if loop is asyncio.get_running_loop():
            await client.aclose()
        else:  # connections belong to their loop: close them there
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(client.aclose(), loop))


def _timeout(exc: Exception) -> DocwireError:
    return RequestTimeout(f"no answer in time: {exc}")


def _default_path(on: str, path: str, refusal: Any) -> str | None:
    """Where to stream ``on`` from after the gateway answered ``path`` with 404: ``/default`` when the
    endpoints the refusal lists do not include ``on`` but include a default one, else None.

    An executor's default (a bare ``@requests``) serves every endpoint, but the gateway routes by
    path only the endpoints it discovered, as the incumbent does; its client sends such calls to
    ``/default``, and so does this one, so that ``stream_doc`` serves the same names as over gRPC.
    """
    endpoints = refusal.get("endpoints") if isinstance(refusal, dict) else None
    if path == DEFAULT_ENDPOINT or not isinstance(endpoints, list) or DEFAULT_ENDPOINT not in endpoints:
        return None
    return None if normalize_endpoint(on) in endpoints else DEFAULT_ENDPOINT


def _json_body(reply: httpx.Response) -> Any:
    try:
        return orjson.loads(reply.content)
    except ValueError:  # orjson.JSONDecodeError included
        return {"message": reply.text[:500]}


async def _events(lines: AsyncIterator[str]) -> AsyncGenerator[tuple[str, str], None]:
    """(event, data) pairs of a server-sent event stream (multi-line data joined with newlines)."""
    event, data = "message", list[str]()
    async for line in lines:
        if not line:
            if data or event != "message":
                yield event, "\n".join(data)
            event, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data or event != "message":
        yield event, "\n".join(data)
