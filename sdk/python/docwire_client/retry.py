"""Retrying calls that failed on a transient connectivity error, with randomized exponential backoff.

Why not gRPC's own ``retryPolicy`` (service config)? It is set per channel, not per
``post``; gRPC caps it at 5 attempts; and it cannot retry a long bidi stream once
replies have started to flow (or its 256 KiB replay buffer is full). One loop in
the client covers unary calls and streams alike, and re-sends on a new stream only
the requests that never got a reply.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import grpc

from docwire_contract.conventions import ERROR_METADATA_KEY
from docwire_contract.errors import ExecutorUnavailable, FailedCall, ended_while_sending

__all__ = ["RetryPolicy", "is_transient"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently a call is tried again (seed 000's ``post`` arguments).

    Attributes:
        max_attempts: sending attempts, the first included; 1 never retries.
        initial_backoff: the bound, in seconds, of the first retry's random delay.
        max_backoff: the largest bound of a random delay, in seconds.
        backoff_multiplier: how much the bound grows from one retry to the next.
    """

    max_attempts: int = 1
    initial_backoff: float = 0.5
    max_backoff: float = 2.0
    backoff_multiplier: float = 1.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("initial_backoff and max_backoff must not be negative")
        if self.backoff_multiplier < 1:
            raise ValueError(f"backoff_multiplier must be at least 1, not {self.backoff_multiplier}")

    def delay(self, retry: int) -> float:
        """Seconds to wait before the ``retry``-th retry (1-based):
        random(0, min(initial_backoff * backoff_multiplier ** (retry - 1), max_backoff))."""
        bound = min(self.initial_backoff * self.backoff_multiplier ** (retry - 1), self.max_backoff)
        return random.uniform(0, bound)


#: Codes a retry may follow. CANCELLED comes from a server that stops: gRPC cancels the calls it had
#: received but not yet started (they never ran; a docwire gateway answers what it started first).
_TRANSIENT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})


def is_transient(exc: FailedCall) -> bool:
    """Whether a failed call may be tried again: the server could not be reached, or went away.

    An ``ExecutorUnavailable`` (the gateway could not reach an executor) is excluded:
    executors earlier in the chain may already have run the request. A request the
    server was still running when it died (a crash, not a graceful stop) may run
    twice if retried; that is the one case a retry repeats work.
    """
    if ended_while_sending(exc):  # a stream the server ended (a stopping gateway) while we were writing
        return True
    if exc.code() not in _TRANSIENT:
        return False
    named = [str(value) for key, value in exc.trailing_metadata() or () if key == ERROR_METADATA_KEY]
    return ExecutorUnavailable.__name__ not in named
