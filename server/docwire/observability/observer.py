"""The interface the gateway core and the executor servicer observe requests through: one hook per request.

Plain Python, so the two import it whether or not observing is on; the implementations
(``gateway``, ``executor``) import Prometheus and OpenTelemetry, and only ``launch`` builds
them, in a process that asked for them. When observing is off the core holds None and
pays one ``is None`` test per request.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from docwire_contract.errors import DocwireError
from docwire_contract.v1 import request_pb2

__all__ = ["ExecutorObserver", "GatewayObserver", "Metadata", "RequestObservation"]

#: Call metadata as (key, value) pairs (the gateway's ``RequestContext.metadata()``).
Metadata = Sequence[tuple[str, str]]

R = TypeVar("R")


class RequestObservation(ABC):
    """One request at the gateway, from the moment it is parsed until its reply (or failure)."""

    __slots__ = ()

    @property
    @abstractmethod
    def metadata(self) -> Metadata:
        """The metadata to send executors: the client's, with this request's ``traceparent`` when tracing.

        A ProcessStream call sends the metadata it was opened with once: a request whose metadata
        differs carries its trace context in its ProcessCall (``gateway.replica_streams``).
        """

    @abstractmethod
    def executor_replied(
        self, executor: str, code: request_pb2.Status.Code.ValueType, started: float | None = None
    ) -> None:
        """An executor's reply came back with status ``code``.

        In a chain (``started`` None) the time since the last mark was its call, and its status is the
        request's so far. In a graph, where calls overlap, its call started at ``started``
        (``time.perf_counter()``), and a failing status is the request's.
        """

    @abstractmethod
    def succeeded(self, reply: bytes) -> bytes:
        """The route came back with ``reply`` (its last executor's status is the request's); returns it."""

    @abstractmethod
    def failed(self, error: DocwireError) -> None:
        """The request failed with ``error`` (no executor reply is the answer)."""

    @abstractmethod
    def finish(self) -> None:
        """Records the request whatever happened; called once, last (without ``succeeded``/``failed``: cut short)."""


class GatewayObserver(ABC):
    """Observes the gateway's requests."""

    @abstractmethod
    def request(
        self, request: request_pb2.DataRequest, metadata: Metadata, documents: int | None = None
    ) -> RequestObservation:
        """Starts observing ``request``, which came with the client's ``metadata``; ``documents``: how many
        it carries when ``request`` is its head alone (None: count them in ``request``)."""

    @abstractmethod
    def close(self) -> None:
        """Sends what is buffered (spans) and stops serving metrics."""


class ExecutorObserver(ABC):
    """Observes an executor replica's requests."""

    @abstractmethod
    async def observe(
        self,
        request: request_pb2.DataRequest,
        metadata: Metadata,
        process: Callable[[], Awaitable[R]],
        docs_bytes: bytes | memoryview | None = None,
    ) -> R:
        """Runs ``process`` (which serves ``request`` in place and returns the reply) and records it.

        ``docs_bytes``: the request's serialized documents when ``request`` is its head alone
        (``docwire.runtime.call_splice``); None: they are in ``request``.

        Raises:
            DocwireError: what ``process`` raised, recorded as the request's failure.
        """

    @abstractmethod
    def close(self) -> None:
        """Sends what is buffered (spans) and stops serving metrics."""
