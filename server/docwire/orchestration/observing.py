"""What each process of a Flow is told about metrics and traces: the Flow's settings, an executor's own over them."""

from __future__ import annotations

from docwire.observability.spec import ObservabilitySpec
from docwire.orchestration.config import ExecutorConfig, FlowConfig

__all__ = ["gateway_observability", "replica_observability"]

GATEWAY_SERVICE = "gateway"


def gateway_observability(flow: FlowConfig) -> ObservabilitySpec | None:
    """The gateway's: the Flow's ``monitoring`` and ``tracing``; None when both are off."""
    if not (flow.monitoring or flow.tracing):
        return None
    return ObservabilitySpec(
        service=GATEWAY_SERVICE,
        monitoring=flow.monitoring,
        host_monitoring=flow.host,
        port_monitoring=flow.port_monitoring,
        tracing=flow.tracing,
        traces_exporter_host=flow.traces_exporter_host,
        traces_exporter_port=flow.traces_exporter_port,
    )


def replica_observability(flow: FlowConfig, executor: ExecutorConfig, replica: int) -> ObservabilitySpec | None:
    """Replica ``replica`` of ``executor``'s: its own settings where given, else the Flow's; None when both are off.

    A fixed ``port_monitoring`` is the first replica's; the others take the ports after it.
    """
    monitoring = flow.monitoring if executor.monitoring is None else executor.monitoring
    tracing = flow.tracing if executor.tracing is None else executor.tracing
    if not (monitoring or tracing):
        return None
    return ObservabilitySpec(
        service=executor.name,
        replica=replica,
        monitoring=monitoring,
        host_monitoring=flow.host,
        port_monitoring=executor.port_monitoring + replica if executor.port_monitoring else 0,
        tracing=tracing,
        traces_exporter_host=executor.traces_exporter_host or flow.traces_exporter_host,
        traces_exporter_port=executor.traces_exporter_port or flow.traces_exporter_port,
    )
