"""What a server process is told about observing itself (part of its GatewaySpec or WorkerSpec)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_TRACES_EXPORTER_PORT", "ObservabilitySpec"]

#: OTLP over gRPC's registered port.
DEFAULT_TRACES_EXPORTER_PORT = 4317


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservabilitySpec:
    """Metrics and traces of one server process.

    Attributes:
        service: the name spans and metrics carry: ``"gateway"`` or the executor's name.
        replica: the replica's index (executors).
        monitoring: serve Prometheus metrics over HTTP on ``host_monitoring:port_monitoring``.
        host_monitoring: the address the metrics port binds.
        port_monitoring: the metrics port (0: the OS chooses; the process reports it when ready).
        tracing: export one span per request over OTLP/gRPC to ``traces_exporter_host:traces_exporter_port``.
        traces_exporter_host: the collector's host, or a URL (``http://collector``; ``https://`` for TLS).
        traces_exporter_port: the collector's OTLP/gRPC port.
    """

    service: str
    replica: int = 0
    monitoring: bool = False
    host_monitoring: str = "0.0.0.0"
    port_monitoring: int = 0
    tracing: bool = False
    traces_exporter_host: str = "127.0.0.1"
    traces_exporter_port: int = DEFAULT_TRACES_EXPORTER_PORT

    @property
    def enabled(self) -> bool:
        """Whether the process observes anything."""
        return self.monitoring or self.tracing

    @property
    def traces_endpoint(self) -> tuple[str, bool]:
        """The OTLP exporter's endpoint (``host:port``, or ``scheme://host:port``) and whether it is plaintext."""
        host = self.traces_exporter_host.rstrip("/")
        return f"{host}:{self.traces_exporter_port}", not host.startswith("https://")
