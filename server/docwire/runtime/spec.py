"""What a worker process is told to serve (pickled to its stdin by the launcher)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from docwire.executor.base import Executor
from docwire.observability.spec import ObservabilitySpec
from docwire.transports.tls import MutualTls
from docwire_contract.conventions import DEFAULT_MAX_MESSAGE_BYTES

__all__ = ["WorkerSpec"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSpec:
    """Everything a worker process needs, sent pickled on its stdin."""

    uses: type[Executor] | str | None
    uses_with: dict[str, Any] = field(default_factory=dict)
    py_modules: tuple[str, ...] = ()
    name: str
    replica_id: int = 0
    shard_id: int = 0
    host: str = "127.0.0.1"
    port: int = 0
    workspace: str | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    #: Seconds after which the server closes a client's connection (None: never), so that clients
    #: balancing over DNS (the gateway, in Kubernetes) resolve again and find new replicas.
    max_connection_age: float | None = None
    #: ``"full"`` or ``"message"`` (``runtime.status.set_error_details``).
    error_details: str = "full"
    #: Metrics and traces (None: neither).
    observability: ObservabilitySpec | None = None
    max_concurrency: int | None = None
    uses_dynamic_batching: dict[str, Any] = field(default_factory=dict)
    #: Serve over mutual TLS (``transports.tls``): its certificate and key, and the CA clients must be signed by.
    tls: MutualTls | None = None
