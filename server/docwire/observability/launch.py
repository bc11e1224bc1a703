"""Builds the observers a server process was asked for; imports Prometheus and OpenTelemetry only then.

``start_gateway_observer`` and ``start_executor_observer`` return None, importing nothing,
when the process's ``ObservabilitySpec`` (or its absence) turns both metrics and traces off.
Tests build the observers directly, with their own span exporter (``span_exporter``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from docwire.observability.observer import ExecutorObserver, GatewayObserver
from docwire.observability.spec import ObservabilitySpec

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from prometheus_client import CollectorRegistry

__all__ = ["start_executor_observer", "start_gateway_observer"]

_Observer = TypeVar("_Observer", GatewayObserver, ExecutorObserver)
#: Builds an observer from its metrics registry (None: no metrics), tracer provider (None: no traces) and the
#: stopper of its metrics port.
_Build = Callable[["CollectorRegistry | None", "TracerProvider | None", "Callable[[], None] | None"], _Observer]


def start_gateway_observer(
    spec: ObservabilitySpec | None, span_exporter: SpanExporter | None = None
) -> tuple[GatewayObserver, int | None] | None:
    """The gateway's observer and its metrics port, or None when ``spec`` observes nothing.

    Raises:
        OSError: the metrics port cannot be bound.
    """

    def build(
        registry: CollectorRegistry | None, provider: TracerProvider | None, stop: Callable[[], None] | None
    ) -> GatewayObserver:
        from docwire.observability.gateway import ObservedGateway  # noqa: PLC0415
        from docwire.observability.metrics import GatewayMetrics  # noqa: PLC0415

        return ObservedGateway(None if registry is None else GatewayMetrics.register(registry), provider, stop)

    return _start(spec, span_exporter, build)


def start_executor_observer(
    spec: ObservabilitySpec | None, span_exporter: SpanExporter | None = None
) -> tuple[ExecutorObserver, int | None] | None:
    """An executor replica's observer and its metrics port, or None when ``spec`` observes nothing.

    Raises:
        OSError: the metrics port cannot be bound.
    """

    def build(
        registry: CollectorRegistry | None, provider: TracerProvider | None, stop: Callable[[], None] | None
    ) -> ExecutorObserver:
        from docwire.observability.executor import ObservedExecutor  # noqa: PLC0415
        from docwire.observability.metrics import ExecutorMetrics  # noqa: PLC0415

        assert spec is not None
        metrics = None if registry is None else ExecutorMetrics.register(registry, spec.service, spec.replica)
        return ObservedExecutor(spec.service, spec.replica, metrics, provider, stop)

    return _start(spec, span_exporter, build)


def _start(
    spec: ObservabilitySpec | None, span_exporter: SpanExporter | None, build: _Build[_Observer]
) -> tuple[_Observer, int | None] | None:
    """What ``build`` makes of the provider and the served registry ``spec`` asks for, and the metrics port."""
    if spec is None or not spec.enabled:
        return None
    # Imported here, and only here: a process that observes nothing never loads them.
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    from docwire.observability.metrics import serve_metrics  # noqa: PLC0415
    from docwire.observability.tracing import exporter_of, tracer_provider  # noqa: PLC0415

    provider = tracer_provider(spec.service, span_exporter or exporter_of(spec)) if spec.tracing else None
    if not spec.monitoring:
        return build(None, provider, None), None
    registry = CollectorRegistry()
    port, stop = serve_metrics(registry, spec.host_monitoring, spec.port_monitoring)
    return build(registry, provider, stop), port
