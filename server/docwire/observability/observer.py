"""The interface the gateway core and the executor servicer observe requests through: one hook per request.

Plain Python, so the two import it whether or not observing is on; the implementations
(``gateway``, ``executor``) import Prometheus and OpenTelemetry, and only ``launch`` builds
them, in a process that asked for them. When observing is off the core holds None and
pays one ``is None`` test per request.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence

from docwire_contract.errors import DocwireError
from docwire_contract.v1 import request_pb2

__all__ = ["ExecutorObserver", "GatewayObserver", "Metadata", "RequestObservation"]

#: Call metadata as (key, value) pairs (the gateway's ``RequestContext.metadata()``).
Metadata = Sequence[tuple[str, str]]


class RequestObservation(ABC):
    """One request at the gateway, from the moment it is parsed until its reply (or failure)."""

    __slots__ = ()

    @property
    @abstractmethod
    def metadata(self) -> Metadata:
        """The metadata to send executors: the client's, with this request's ``traceparent`` when tracing."""

    @property
    @abstractmethod
    def per_call_metadata(self) -> bool:
        """Whether each executor call must carry its own metadata (tracing): the gateway then calls unary.

        A ProcessStream call carries the metadata it was opened with for every request sent on it.
        """

    @abstractmethod
    def executor_replied(self, executor: str, code: request_pb2.Status.Code.ValueType) -> None:
        """An executor's reply came back with status ``code``; the time since the last mark was its call."""

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
    def request(self, request: request_pb2.DataRequest, metadata: Metadata) -> RequestObservation:
        """Starts observing ``request``, which came with the client's ``metadata``."""

    @abstractmethod
    def close(self) -> None:
        """Sends what is buffered (spans) and stops serving metrics."""


class ExecutorObserver(ABC):
    """Observes an executor replica's requests."""

    @abstractmethod
    async def observe(
        self, request: request_pb2.DataRequest, metadata: Metadata, process: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """Runs ``process`` (which serves ``request`` in place and returns the reply) and records it.

        Raises:
            DocwireError: what ``process`` raised, recorded as the request's failure.
        """

    @abstractmethod
    def close(self) -> None:
        """Sends what is buffered (spans) and stops serving metrics."""
