"""How the gateway waits for an executor replica at start-up, and says why one cannot be reached."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import grpc

from docwire.gateway.tls_diagnosis import tls_failure
from docwire.transports.tls import MutualTls

__all__ = ["ExecutorUnreachable", "wait_for_answer"]

_Request = TypeVar("_Request")
_Reply = TypeVar("_Reply")


class ExecutorUnreachable(Exception):
    """Discovery found why a replica cannot be reached (the message says it); waiting will not help."""


async def wait_for_answer(
    call: grpc.aio.UnaryUnaryMultiCallable[_Request, _Reply],
    request: _Request,
    timeout: float,
    address: str,
    tls: MutualTls | None,
) -> _Reply:
    """Calls one replica (its endpoints, or its health), waiting up to ``timeout`` s for it to come up.

    Waiting hides why a replica cannot be reached, so every second a call that does not wait asks the
    channel for its last connection error: a failed TLS handshake fails at once, named; anything else
    (refused: still starting) is waited out, and the last error is reported at the deadline.

    Raises:
        grpc.aio.AioRpcError: the replica did not answer in time.
        ExecutorUnreachable: TLS keeps the gateway from it (``tls_diagnosis``).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        try:
            return await call(request, timeout=max(min(remaining, 1.0), 0.001), wait_for_ready=True)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
            waited = exc
        try:
            return await call(request, timeout=1.0)
        except grpc.aio.AioRpcError as exc:
            failure = exc if exc.code() == grpc.StatusCode.UNAVAILABLE else waited
        details = failure.details() or ""
        if failure is not waited and "refused" not in details and (why := await tls_failure(address, tls)):
            raise ExecutorUnreachable(f"{details}; {why}")
        if remaining <= 1.0:
            raise failure
