"""A cap on HTTP request bodies: one over the Flow's message size limit is refused with 413, never kept.

The cap is ``max_message_size``, the limit every hop applies and WebSocket frames have too. A body
over it is answered with ``MessageTooLarge`` (413) naming the limit before anything parses it;
without the cap a 70 MB body was parsed, turned into documents and encoded, and only the
gateway's channel to the executor refused it (``RESOURCE_EXHAUSTED``).

A refused body is still read to its end, and dropped as it comes: a client that writes its whole
body before reading (httpx, requests) would otherwise get a reset connection instead of the answer.
A declared ``Content-Length`` is refused before the application runs; a chunked body is counted as
the application reads it, and once over the cap the 413 is sent from here and the application
sees the client disconnect (its own answer, if any, is dropped). A client that leaves before its
body is read ends its request here too, quietly: no answer can reach it.
"""

from __future__ import annotations

import contextlib

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docwire.transports.http_errors import error_response
from docwire_contract.errors import MessageTooLarge

__all__ = ["BodyLimit"]


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes (see the module docstring).

    Args:
        app: the application it guards.
        limit: the largest body, in bytes, passed on.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self._limit:
            await _drain(receive)
            error = MessageTooLarge(self._over(f"{declared} bytes, "))
            await error_response(error)(scope, receive, send)
            return
        received = 0
        started = answered = False

        async def counting_receive() -> Message:
            nonlocal received, answered
            message = await receive()
            if message["type"] != "http.request" or started:
                return message
            received += len(message.get("body", b""))
            if received <= self._limit:
                return message
            # Answered here, whatever the application does with its body: it sees the client go.
            if message.get("more_body", False):
                await _drain(receive)
            await error_response(MessageTooLarge(self._over("")))(scope, receive, send)
            answered = True
            return {"type": "http.disconnect"}

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the application's answer to a client it saw go
            started = started or message["type"] == "http.response.start"
            await send(message)

        # The client left before its body was read (or was answered 413 here): there is nobody to answer, and
        # the server, which knows the connection is gone, sends nothing either. Raised on, it was an ERROR with
        # a traceback in the log for what is not the gateway's fault.
        with contextlib.suppress(ClientDisconnect):
            await self._app(scope, counting_receive, tracking_send)

    def _over(self, size: str) -> str:
        return f"the request body is {size}over the limit of {self._limit} bytes (the Flow's max_message_size)"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # h11 refuses such a request before it gets here
    return None


async def _drain(receive: Receive) -> None:
    """Reads the rest of the body (or until the client leaves), keeping none of it."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
