"""The gateway-wide bound on requests in flight (``max_inflight``): past it a request is refused, not queued.

``prefetch`` bounds what one client stream has in flight; nothing else bounds how many requests all
clients together make the gateway hold (each costs memory and an executor slot). With ``max_inflight``
the gateway answers a request beyond it at once with ``Overloaded`` (RESOURCE_EXHAUSTED, HTTP 429 with
``Retry-After``), before it reaches any executor: a client backs off, and those in flight finish in time.
"""

from __future__ import annotations

from docwire_contract.errors import Overloaded

__all__ = ["InflightLimit"]


class InflightLimit:
    """Counts requests in flight; ``enter`` refuses one past ``limit`` (None: counts, never refuses).

    Every ``enter`` is matched by one ``leave``, refused or not (so a caller calls ``leave`` in a ``finally``).
    """

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self.count = 0

    def enter(self) -> None:
        """Counts a request in.

        Raises:
            Overloaded: ``limit`` requests were in flight already.
        """
        self.count += 1
        if self._limit is not None and self.count > self._limit:
            raise Overloaded(
                f"the gateway has max_inflight={self._limit} requests in flight; "
                f"send again after {Overloaded.retry_after_seconds} s"
            )

    def leave(self) -> None:
        """Counts a request out."""
        self.count -= 1
