"""A chain's request and replies as the gateway handles them: read at the top level, never parsed whole.

Along a chain the gateway needs a request's header and parameters, each reply's status
code, and its own route in front of the last reply. The documents (``data``, the bulk of
every message) are never read: the request's head is parsed from its other fields, a
reply's status from its header alone, and the gateway's route is written by hand and
put in front of the reply's bytes (protobuf appends repeated fields of concatenated
messages, so it comes first in ``routes``), as ``docwire_contract.framing`` describes.
A request that fails is parsed whole for its error reply (which returns its documents).
"""

from __future__ import annotations

import time
from typing import Final

from google.protobuf.message import DecodeError

from docwire.gateway.replies import GATEWAY_ROUTE
from docwire_contract.codec import LENGTH_DELIMITED, VARINT, field_key, varint_bytes
from docwire_contract.errors import BadRequest
from docwire_contract.framing import joined, spans
from docwire_contract.v1 import request_pb2

__all__ = ["Reply", "RequestHead", "as_bytes", "reply_code", "request_head", "route_bytes"]

#: An executor's serialized reply: bytes (a unary call's) or a view into a stream's result.
Reply = bytes | memoryview


def as_bytes(reply: Reply) -> bytes:
    """``reply`` as bytes (a copy of a view), where a protobuf parser or a unary call needs them."""
    return reply if isinstance(reply, bytes) else bytes(reply)


_DATA: Final = request_pb2.DataRequest.DATA_FIELD_NUMBER
_HEADER: Final = request_pb2.DataRequest.HEADER_FIELD_NUMBER
_ROUTES_TAG: Final = field_key(request_pb2.DataRequest.ROUTES_FIELD_NUMBER, LENGTH_DELIMITED)
_EXECUTOR_NAME: Final = field_key(request_pb2.Route.EXECUTOR_FIELD_NUMBER, LENGTH_DELIMITED) + varint_bytes(
    len(GATEWAY_ROUTE.encode())
)
_START_TAG: Final = field_key(request_pb2.Route.START_TIME_FIELD_NUMBER, LENGTH_DELIMITED)
_END_TAG: Final = field_key(request_pb2.Route.END_TIME_FIELD_NUMBER, LENGTH_DELIMITED)
_SECONDS_TAG: Final = field_key(1, VARINT)  # google.protobuf.Timestamp.seconds
_NANOS_TAG: Final = field_key(2, VARINT)  # google.protobuf.Timestamp.nanos


class RequestHead:
    """A serialized DataRequest and its parsed head: every field but ``data``."""

    __slots__ = ("message", "raw")

    def __init__(self, raw: bytes, message: request_pb2.DataRequest) -> None:
        self.raw = raw
        self.message = message

    def whole(self) -> request_pb2.DataRequest:
        """The whole request, documents included (parsed now).

        Raises:
            BadRequest: the documents do not parse.
        """
        return _parsed(self.raw)


def _parsed(raw: bytes) -> request_pb2.DataRequest:
    try:
        return request_pb2.DataRequest.FromString(raw)
    except DecodeError as exc:
        raise BadRequest(f"the request is not a valid docwire.v1.DataRequest: {exc}") from exc


def request_head(raw: bytes) -> RequestHead:
    """``raw``'s head, parsed from its fields other than ``data`` (the documents are not read).

    Raises:
        BadRequest: ``raw`` is not a serialized DataRequest.
    """
    try:
        fields = spans(raw)
    except ValueError as exc:
        raise BadRequest(f"the request is not a valid docwire.v1.DataRequest: {exc}") from exc
    if not any(span.number == _DATA for span in fields):
        return RequestHead(raw, _parsed(raw))
    head = b"".join(raw[span.start : span.end] for span in fields if span.number != _DATA)
    return RequestHead(raw, _parsed(head))


def reply_code(reply: Reply) -> request_pb2.Status.Code.ValueType:
    """The ``header.status.code`` of a serialized DataRequest, read from its header alone.

    Raises:
        BadRequest: the reply is not a serialized DataRequest (an executor that is not docwire's).
    """
    try:
        header = request_pb2.Header.FromString(joined(reply, spans(reply), _HEADER))
    except (ValueError, DecodeError) as exc:
        raise BadRequest(f"an executor's reply is not a valid docwire.v1.DataRequest: {exc}") from exc
    return header.status.code


def _timestamp(nanoseconds: int) -> bytes:
    """A ``google.protobuf.Timestamp``'s fields as protobuf writes them (zeros left out)."""
    seconds, nanos = divmod(nanoseconds, 1_000_000_000)
    written = _SECONDS.get(seconds)
    if written is None:  # a new second: the few before it are dropped
        if len(_SECONDS) >= 4:
            _SECONDS.clear()
        written = _SECONDS[seconds] = _SECONDS_TAG + varint_bytes(seconds) if seconds else b""
    return written + _NANOS_TAG + varint_bytes(nanos) if nanos else written


#: The seconds of the last few timestamps written, as written.
_SECONDS: dict[int, bytes] = {}


def route_bytes(start: int, end: int | None = None) -> bytes:
    """What ``replies.gateway_route(start).SerializeToString()`` gives, written by hand (``end``: now)."""
    started, ended = _timestamp(start), _timestamp(time.time_ns() if end is None else end)
    route = b"".join(
        (
            _EXECUTOR_NAME,
            GATEWAY_ROUTE.encode(),
            _START_TAG,
            varint_bytes(len(started)),
            started,
            _END_TAG,
            varint_bytes(len(ended)),
            ended,
        )
    )
    return b"".join((_ROUTES_TAG, varint_bytes(len(route)), route))
