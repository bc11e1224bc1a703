"""The WebSocket transport: many requests streamed over one socket, as JSON or as serialized protobuf.

The frame protocol (``docs/websocket.md`` tells clients the same):

* Connect to ``ws://host:port/`` (``wss://`` when the gateway has a certificate) offering
  the subprotocol ``json`` or ``bytes``; offering none means ``json``. A handshake that
  offers only other subprotocols is refused with HTTP 400 naming the supported ones;
  one whose ``Origin`` is not in the gateway's CORS list (when it has a list) with 403.
* ``json``: each text frame is one request, the body ``POST /post`` takes
  (``{"execEndpoint": "/x", "data": [{"text": "hi"}], "parameters": {...},
  "targetExecutor": "...", "header": {"requestId": "..."}}``, camelCase or snake_case);
  each reply is one text frame holding the JSON ``POST /post`` answers (``header`` with
  ``requestId`` and ``status``, ``parameters``, ``routes``, ``data``).
* ``bytes``: each binary frame is a serialized ``docwire.v1.DataRequest``, each reply a
  serialized ``docwire.v1.DataRequest``. jina.Client with docarray v1 (clip_client's) sends
  docarray v1 documents in the same envelope: as on the gRPC ``jina.*`` paths, a socket is
  legacy from its first frame holding them (``docwire_contract.legacy``), its documents are
  translated in and its replies' documents back to v1.
* Up to ``prefetch`` requests are in flight at once; replies come as they finish, not
  in order: match them by ``header.requestId`` (a request without one is given one, and
  its reply carries it).
* End of input is explicit: the text frame ``{"end": true}`` (json) or an empty binary
  frame (bytes). The server then sends every outstanding reply, the same end marker,
  and closes with 1000. jina.Client ends its input with one ``0x00`` byte instead
  (``JINA_BYTES_END``, never a valid DataRequest): the outstanding replies, then the
  close with 1000, and no marker echoed (Jina's clients read every frame as a reply).
* ``/dry_run``: a socket there gets the Flow's readiness, a ``docwire.v1.Status`` (bytes)
  or the JSON ``GET /dry_run`` answers (json), as soon as it connects; it closes with
  1000 after the client's next frame (jina.Client's ``is_flow_ready`` sends one).
* A frame that is not a request (not JSON, not a DataRequest, documents that do not fit
  the endpoint's schema, a text frame in bytes or a binary one in json) is answered by an
  error reply: a DataRequest whose ``header.status`` has code 1 (ERROR), a description
  naming the frame's number and what is wrong (for JSON, the position), and
  ``exception.name`` the error class (``BadRequest``, ``DocumentSchemaError``). The socket
  goes on serving. An executor's exception is an error reply too, as on every protocol.
* The connection itself ends with a close code from ``status_map`` and the reason
  ``"<ErrorName>: <message>"`` (at most 123 bytes): 1013 when the gateway is stopping (it
  answered what it had taken in; requests without a reply were never forwarded, so send
  them again), 1009 for a message over the gateway's max message size (sent by the
  WebSocket layer, reason ``frame with N bytes exceeds limit of M bytes``), 1011 for an
  internal error.

A session feeds the gateway core's own bidirectional ``Stream`` with an ``HttpContext``
of the handshake, as the gRPC transport does with a call's, so prefetch, in-band errors
and draining on stop are exactly gRPC streaming's; this module only turns frames into
request bytes and replies into frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol, cast

from google.protobuf.message import DecodeError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from docwire.gateway.auth import TokenCheck
from docwire.gateway.service import GatewayServicer
from docwire.transports.document_json import dumps
from docwire.transports.http_context import HttpContext
from docwire.transports.http_errors import error_response
from docwire.transports.json_requests import SchemaDocuments, message_from_json, message_to_json, parse_json
from docwire_contract.errors import BadRequest, DocwireError, Unauthenticated
from docwire_contract.legacy import is_legacy_request, reply_to_legacy, request_from_legacy
from docwire_contract.status_map import close_code_of
from docwire_contract.v1 import request_pb2

__all__ = ["BYTES_END", "JINA_BYTES_END", "JSON_END", "SUBPROTOCOLS", "WebSocketGateway", "close_reason"]

logger = logging.getLogger("docwire.gateway")

#: The socket answering the Flow's readiness (open without a token, as ``GET /dry_run`` is).
DRY_RUN_PATH = "/dry_run"
#: The subprotocols served, by preference when a client offers several.
SUBPROTOCOLS = ("json", "bytes")
#: What a handshake offering no subprotocol gets.
DEFAULT_SUBPROTOCOL = "json"
#: The end marker of the json subprotocol, both ways (a text frame).
JSON_END = '{"end":true}'
#: The end marker of the bytes subprotocol, both ways (a binary frame).
BYTES_END = b""
#: jina.Client's end marker on the bytes subprotocol (``bytes(True)``); not echoed.
JINA_BYTES_END = b"\x00"
#: RFC 6455: a close frame's payload is at most 125 bytes, two of them the code.
_MAX_REASON_BYTES = 123
#: Handshake and hop headers: never passed on to executors as metadata.
_HANDSHAKE_HEADERS = frozenset(
    {
        "connection",
        "upgrade",
        "content-length",
        "keep-alive",
        "transfer-encoding",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
    }
)


class _DeniedHandshakes(logging.Filter):
    """Drops the error uvicorn 0.54's websockets-sansio protocol logs after each handshake refused on purpose.

    That protocol never marks a handshake answered by a denial response as complete, so
    it logs "ASGI callable returned without completing handshake." at ERROR once the app
    returns (Kludex/uvicorn#3138, open); wsproto does not, but is ~2.7x slower on binary
    frames. Only as many records as handshakes were denied are dropped, so another app's
    real error still shows.
    """

    MESSAGE = "ASGI callable returned without completing handshake."

    def __init__(self) -> None:
        super().__init__()
        self.expected = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if self.expected and record.getMessage() == self.MESSAGE:
            self.expected -= 1
            return False
        return True


_DENIED = _DeniedHandshakes()


def close_reason(error: DocwireError) -> str:
    """``"<ErrorName>: <message>"``, cut to fit a close frame (at most 123 bytes of UTF-8)."""
    reason = f"{type(error).__name__}: {error}"
    encoded = reason.encode()
    if len(encoded) <= _MAX_REASON_BYTES:
        return reason
    return encoded[: _MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


class _BadFrame(Exception):
    """A frame that is not a request: answered with an error reply, the socket goes on."""

    def __init__(self, error: DocwireError, request_id: str = "") -> None:
        super().__init__(str(error))
        self.error = error
        self.request_id = request_id


def _error_reply(request_id: str, number: int, error: DocwireError) -> request_pb2.DataRequest:
    """The reply to a frame that is not a request: its id (when it had one) and an error status naming the frame."""
    reply = request_pb2.DataRequest()
    reply.header.request_id = request_id
    status = reply.header.status
    status.code = request_pb2.Status.CODE_ERROR
    status.description = f"frame {number}: {error}"
    status.exception.name = type(error).__name__
    status.exception.args.append(status.description)
    return reply


class _Frames(Protocol):
    """How one subprotocol turns frames into request bytes and replies into frames."""

    def request(self, text: str | None, data: bytes | None, number: int) -> bytes | None:
        """The serialized DataRequest frame ``number`` holds, with an id; None for the end marker.

        Raises:
            _BadFrame: the frame is not a request.
        """

    def reply(self, raw: bytes) -> str | bytes:
        """The frame a serialized reply travels as."""

    def error(self, request_id: str, number: int, error: DocwireError) -> str | bytes:
        """The frame answering frame ``number``, which was not a request."""

    def end(self) -> str | bytes | None:
        """The end marker to echo once every reply is sent; None to close without one."""


class _JsonFrames:
    """``json``: text frames holding what ``POST /post`` takes and answers."""

    def __init__(self, documents: SchemaDocuments) -> None:
        self._documents = documents

    def request(self, text: str | None, data: bytes | None, number: int) -> bytes | None:
        if text is None:
            raise _BadFrame(
                BadRequest(
                    "the json subprotocol takes text frames, this one is binary "
                    "(connect with the bytes subprotocol to send serialized DataRequests)"
                )
            )
        try:
            obj = parse_json(text, "the text")
        except BadRequest as error:
            raise _BadFrame(error) from error
        if not isinstance(obj, dict):
            raise _BadFrame(BadRequest(f"a frame must be a JSON object (a request or {JSON_END}), not {_kind(obj)}"))
        if obj.get("end") is True and len(obj) == 1:
            return None
        request_id = _request_id_in(obj)
        try:
            message = message_from_json(request_pb2.DataRequest.DESCRIPTOR, obj, self._documents())
        except DocwireError as error:
            raise _BadFrame(error, request_id) from error
        return message.SerializeToString()

    def reply(self, raw: bytes) -> str:
        return _dumps(message_to_json(request_pb2.DataRequest.FromString(raw)))

    def error(self, request_id: str, number: int, error: DocwireError) -> str:
        return _dumps(message_to_json(_error_reply(request_id, number, error)))

    def end(self) -> str:
        return JSON_END


class _BytesFrames:
    """``bytes``: binary frames holding serialized DataRequests, both ways."""

    def __init__(self) -> None:
        self._end: bytes | None = BYTES_END
        self._legacy = False  # docarray v1 documents seen: replies go back as v1 (a jina client never mixes)

    def request(self, text: str | None, data: bytes | None, number: int) -> bytes | None:
        if data is None:
            raise _BadFrame(
                BadRequest(
                    "the bytes subprotocol takes binary frames, each a serialized docwire.v1.DataRequest; "
                    "this one is text (connect with the json subprotocol to send JSON)"
                )
            )
        if data == BYTES_END:
            return None
        if data == JINA_BYTES_END:
            self._end = None
            return None
        if _is_legacy(data):
            self._legacy = True
            try:
                data = request_from_legacy(data)
            except BadRequest as error:
                raise _BadFrame(error) from error
        try:
            request = request_pb2.DataRequest.FromString(data)
        except DecodeError as exc:
            raise _BadFrame(BadRequest(f"it is not a serialized docwire.v1.DataRequest: {exc}")) from exc
        if request.header.request_id:
            return data
        # Protobuf merges concatenated messages: this sets the id without re-encoding the documents.
        named = request_pb2.DataRequest(header=request_pb2.Header(request_id=uuid.uuid4().hex))
        return data + named.SerializeToString()

    def reply(self, raw: bytes) -> bytes:
        return reply_to_legacy(raw) if self._legacy else raw

    def error(self, request_id: str, number: int, error: DocwireError) -> bytes:
        return _error_reply(request_id, number, error).SerializeToString()

    def end(self) -> bytes | None:
        return self._end


def _is_legacy(data: bytes) -> bool:
    """Whether a binary frame is a request with docarray v1 documents; bytes that are no protobuf message
    at all are not (parsing them as a DataRequest names what is wrong)."""
    try:
        return is_legacy_request(data)
    except BadRequest:
        return False


def _dumps(content: Any) -> str:
    return dumps(content).decode()


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _request_id_in(obj: Mapping[str, Any]) -> str:
    """The request id a JSON request gives, wherever it gives it ("" for none), before it is parsed."""
    header = obj.get("header")
    places = [header] if isinstance(header, dict) else []
    for place in (*places, obj):
        for key in ("requestId", "request_id"):
            if isinstance(place.get(key), str):
                return cast(str, place[key])
    return ""


class _Session:
    """One socket: reads frames into the Stream handler, sends its replies back, closes at the end."""

    def __init__(self, websocket: WebSocket, frames: _Frames, gateway: GatewayServicer) -> None:
        self._websocket = websocket
        self._frames = frames
        self._gateway = gateway
        self._context = HttpContext(websocket, _HANDSHAKE_HEADERS)
        #: Requests on their way to the Stream handler (None: the input ended). Kept small: the
        #: handler takes a request only when it has a free slot, so a client over prefetch waits.
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
        self._sending = asyncio.Lock()
        self._closed = False

    async def run(self) -> None:
        """Serves the socket until the end marker is answered, the gateway stops, or the client goes."""
        answering = asyncio.create_task(self._answer())
        reading = asyncio.create_task(self._read())
        try:
            done, _ = await asyncio.wait((answering, reading), return_when=asyncio.FIRST_COMPLETED)
            if answering in done:
                answering.result()
            elif reading.result():  # the end marker: answer what is outstanding
                await answering
            else:  # the client went away: nobody to answer, the in-flight requests are cancelled below
                self._context.cancel()
        except WebSocketDisconnect:
            self._context.cancel()
        except Exception as exc:  # whatever failed, the client gets a close code and a reason
            logger.exception("a WebSocket session failed")
            await self._close(1011, close_reason(DocwireError(f"internal error: {type(exc).__name__}: {exc}")))
        finally:
            for task in (reading, answering):
                task.cancel()
            await asyncio.gather(reading, answering, return_exceptions=True)

    async def _read(self) -> bool:
        """Reads frames into the inbox: True once the end marker came, False when the client went away."""
        number = 0
        while True:
            message = await self._websocket.receive()
            if message["type"] == "websocket.disconnect":
                return False
            number += 1
            try:
                raw = self._frames.request(message.get("text"), message.get("bytes"), number)
            except _BadFrame as bad:
                await self._send(self._frames.error(bad.request_id, number, bad.error))
                continue
            await self._inbox.put(raw)
            if raw is None:
                return True

    async def _requests(self) -> AsyncIterator[bytes]:
        while (raw := await self._inbox.get()) is not None:
            yield raw

    async def _answer(self) -> None:
        """Runs the gateway's Stream over the inbox and sends each reply; ends with the end marker or a close."""
        replies = self._gateway.stream(self._requests(), self._context)
        try:
            async for raw in replies:
                await self._send(self._frames.reply(raw))
        except DocwireError as error:  # the gateway is stopping (or refused the stream)
            await self._close(close_code_of(error), close_reason(error))
            return
        finally:
            await replies.aclose()
        if (end := self._frames.end()) is not None:
            await self._send(end)
        await self._close(1000, "every request is answered")

    async def _send(self, frame: str | bytes) -> None:
        async with self._sending:
            if self._closed:
                return
            if isinstance(frame, str):
                await self._websocket.send_text(frame)
            else:
                await self._websocket.send_bytes(frame)

    async def _close(self, code: int, reason: str) -> None:
        async with self._sending:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(WebSocketDisconnect):  # the client is gone already
                await self._websocket.close(code, reason)


class WebSocketGateway:
    """Serves the gateway core's Stream rpc over WebSocket at ``/``.

    Args:
        gateway: the gateway core (its ``stream``, and its discovered schemas for JSON documents).
        allowed_origins: the gateway's CORS origins. When it lists origins (not ``"*"``), a
            handshake whose ``Origin`` header is another one is refused with 403; clients
            that send no ``Origin`` (anything but a browser) are not concerned.
        token_check: the gateway's tokens (``gateway.auth``): a handshake without a valid
            ``Authorization: Bearer <token>`` header is refused with 401 (``/dry_run`` is open).
    """

    def __init__(
        self, gateway: GatewayServicer, *, allowed_origins: Sequence[str] = (), token_check: TokenCheck | None = None
    ) -> None:
        self._gateway = gateway
        self._token_check = token_check
        self._documents = SchemaDocuments(lambda: gateway.endpoints_info)
        self._origins = frozenset(allowed_origins)
        self._sessions: set[asyncio.Task[None]] = set()

    def app(self, http_routes: Sequence[BaseRoute] = ()) -> Starlette:
        """The ASGI application: the socket at ``/``, then ``http_routes`` (the gateway serves its HTTP API on
        the WebSocket port too, so clients of this port reach ``/dry_run``, ``/endpoints`` and the SSE of
        generator endpoints); with none, a liveness answer to ``GET /``."""
        routes = list(http_routes) or [Route("/", self._liveness, methods=["GET"])]
        sockets = [WebSocketRoute("/", self._serve), WebSocketRoute(DRY_RUN_PATH, self._dry_run)]
        return Starlette(routes=[*sockets, *routes])

    async def wait_closed(self, timeout: float) -> None:
        """Waits up to ``timeout`` seconds for the open sockets to end.

        Once the gateway servicer drains, each session answers what it took in and closes
        with 1013; call this before stopping the server, which would close them with 1012.
        """
        if self._sessions:
            await asyncio.wait(set(self._sessions), timeout=timeout)

    async def _liveness(self, request: Request) -> Response:
        return JSONResponse({})

    async def _serve(self, websocket: WebSocket) -> None:
        chosen = await self._accept(websocket)
        if chosen is None:
            return
        frames: _Frames = _JsonFrames(self._documents) if chosen == "json" else _BytesFrames()
        session = asyncio.create_task(_Session(websocket, frames, self._gateway).run())
        self._sessions.add(session)
        session.add_done_callback(self._sessions.discard)
        await session

    async def _dry_run(self, websocket: WebSocket) -> None:
        """The Flow's readiness, sent as soon as the socket opens (jina.Client's ``is_flow_ready``)."""
        chosen = await self._accept(websocket)
        if chosen is None:
            return
        status = await self._gateway.dry_run()
        with contextlib.suppress(WebSocketDisconnect):
            if chosen == "bytes":
                await websocket.send_bytes(status.SerializeToString())
            else:
                await websocket.send_text(_dumps(message_to_json(status)))
            if (await websocket.receive())["type"] != "websocket.disconnect":
                await websocket.close(1000, "dry run answered")

    async def _accept(self, websocket: WebSocket) -> str | None:
        """Accepts the handshake with the subprotocol it chose, or refuses it (then None)."""
        offered = list(websocket.scope.get("subprotocols") or ())
        refusal = self._refusal(websocket, offered)
        if refusal is not None:
            logging.getLogger("uvicorn.error").addFilter(_DENIED)  # once: a filter is added only if absent
            _DENIED.expected += 1
            await websocket.send_denial_response(refusal)
            return None
        chosen = next((p for p in offered if p in SUBPROTOCOLS), DEFAULT_SUBPROTOCOL)
        await websocket.accept(subprotocol=chosen if offered else None)
        return chosen

    def _refusal(self, websocket: WebSocket, offered: Sequence[str]) -> Response | None:
        """The HTTP answer refusing a handshake, or None to accept it."""
        if offered and not any(p in SUBPROTOCOLS for p in offered):
            message = f"no subprotocol of {offered} is served; offer one of {list(SUBPROTOCOLS)} (none means json)"
            body = {"code": 3, "status": "INVALID_ARGUMENT", "error": "BadRequest", "message": message}
            return JSONResponse(body, status_code=400)
        if self._token_check is not None and websocket.url.path != DRY_RUN_PATH:
            try:
                self._token_check.check(websocket.headers.get("authorization"))
            except Unauthenticated as error:
                return error_response(error)
        origin = websocket.headers.get("origin")
        if origin is not None and self._origins and "*" not in self._origins and origin not in self._origins:
            message = f"origin {origin!r} may not connect; the gateway allows {sorted(self._origins)}"
            return JSONResponse({"code": 7, "status": "PERMISSION_DENIED", "message": message}, status_code=403)
        return None
