"""A deadline for reading each HTTP request, so slow clients (slowloris) cannot hold connections forever.

uvicorn bounds the idle time between requests (``timeout_keep_alive``) but not the time a client
takes to send one: a socket that sends a header byte every few seconds, or opens and sends
nothing, stays open for good. ``read_timeout_protocol(seconds)`` is uvicorn's h11 protocol with
a timer armed when a connection opens and when a request's first bytes arrive, and disarmed once
the request (headers and body) is complete or the connection turns into a WebSocket. A request
that is not complete in time is answered ``408 Request Timeout`` and its connection closed.
The WebSocket port's handshake is an HTTP request read by the same protocol.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["read_timeout_protocol"]

logger = logging.getLogger("docwire.gateway")

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"

#: The client's states in which the server waits for it to send (the rest of) a request.
_READING = (h11.IDLE, h11.SEND_BODY)


class _ReadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a bound on the time a request takes to arrive (see the module docstring)."""

    read_timeout: float = 60.0
    _read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.get_protocol() is self and self.conn.their_state in _READING:
            self._arm()  # a request has begun (the timer runs from its first bytes; not restarted by more)
        else:
            self._disarm()  # complete (the app is answering), upgraded to a WebSocket, or closing

    def on_response_complete(self) -> None:
        super().on_response_complete()  # uvicorn's keep-alive timer covers the idle time that follows
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._read_timer is None:
            self._read_timer = self.loop.call_later(self.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        logger.debug("closing %s: no complete request after %gs", self.client, self.read_timeout)
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_TIMED_OUT)
        self.transport.close()


def read_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol (``uvicorn.Config(http=...)``) with each request bounded to ``seconds``."""
    return type("ReadTimeoutProtocol", (_ReadTimeoutProtocol,), {"read_timeout": seconds})
