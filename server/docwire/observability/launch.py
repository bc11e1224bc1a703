"""Builds the observers a server process was asked for; imports Prometheus and OpenTelemetry only then.

``start_gateway_observer`` and ``start_executor_observer`` return None, importing nothing,
when the process's ``ObservabilitySpec`` (or its absence) turns both metrics and traces off.
Tests build the observers directly, with their own span exporter (``span_exporter``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from docwire.observability.observer import ExecutorObserver, GatewayObserver
from docwire.observability.spec import ObservabilitySpec

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["start_executor_observer", "start_gateway_observer"]


def start_gateway_observer(
    spec: ObservabilitySpec | None, span_exporter: SpanExporter | None = None
) -> tuple[GatewayObserver, int | None] | None:
    """The gateway's observer and its metrics port, or None when ``spec`` observes nothing.

    Raises:
        OSError: the metrics port cannot be bound.
    """
    if spec is None or not spec.enabled:
        return None
    # Imported here, and only here: a process that observes nothing never loads them.
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    from docwire.observability.gateway import ObservedGateway  # noqa: PLC0415
    from docwire.observability.metrics import GatewayMetrics, serve_metrics  # noqa: PLC0415
    from docwire.observability.tracing import exporter_of, tracer_provider  # noqa: PLC0415

    provider = None
    if spec.tracing:
        provider = tracer_provider(spec.service, span_exporter or exporter_of(spec))
    if not spec.monitoring:
        return ObservedGateway(None, provider), None
    registry = CollectorRegistry()
    metrics = GatewayMetrics.register(registry)
    port, stop = serve_metrics(registry, spec.host_monitoring, spec.port_monitoring)
    return ObservedGateway(metrics, provider, stop), port


def start_executor_observer(
    spec: ObservabilitySpec | None, span_exporter: SpanExporter | None = None
) -> tuple[ExecutorObserver, int | None] | None:
    """An executor replica's observer and its metrics port, or None when ``spec`` observes nothing.

    Raises:
        OSError: the metrics port cannot be bound.
    """
    if spec is None or not spec.enabled:
        return None
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    from docwire.observability.executor import ObservedExecutor  # noqa: PLC0415
    from docwire.observability.metrics import ExecutorMetrics, serve_metrics  # noqa: PLC0415
    from docwire.observability.tracing import exporter_of, tracer_provider  # noqa: PLC0415

    provider = None
    if spec.tracing:
        provider = tracer_provider(spec.service, span_exporter or exporter_of(spec))
    if not spec.monitoring:
        return ObservedExecutor(spec.service, spec.replica, None, provider), None
    registry = CollectorRegistry()
    metrics = ExecutorMetrics.register(registry, spec.service, spec.replica)
    port, stop = serve_metrics(registry, spec.host_monitoring, spec.port_monitoring)
    return ObservedExecutor(spec.service, spec.replica, metrics, provider, stop), port
