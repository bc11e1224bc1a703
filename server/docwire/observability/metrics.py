"""The Prometheus metric families of the gateway and of an executor replica, and the port that serves them.

Each process has its own registry (with the process collector: CPU, memory, open files)
served by ``prometheus_client``'s HTTP server in a thread of its own, off the event loop.
The series are ``series``' plain numbers, which the event loop changes without a lock.
Names follow Prometheus' conventions: ``docwire_<role>_<what>_<unit>``, counters ending in
``_total`` when exposed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server

from docwire.observability.series import (
    Count,
    CounterFamily,
    GaugeFamily,
    HistogramFamily,
    Level,
    Observations,
    SeriesCollector,
)

__all__ = ["LATENCY_BUCKETS", "MAX_ENDPOINTS", "EndpointSeries", "ExecutorMetrics", "GatewayMetrics", "serve_metrics"]

#: Seconds: from half a millisecond (a pass-through hop) to a minute (a large model on a large batch).
LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


#: Endpoints are the callers' strings: past this many distinct ones, the rest are counted as ``OTHER_ENDPOINT``,
#: so a client sending random endpoints cannot grow the series without bound.
MAX_ENDPOINTS: Final = 1000
OTHER_ENDPOINT: Final = "(other)"


@dataclass(frozen=True, slots=True)
class EndpointSeries:
    """The series one endpoint's every request touches, looked up once."""

    requests_ok: Count
    in_flight: Level
    latency: Observations
    documents: Count


def _endpoint_of(cache: dict[str, EndpointSeries], endpoint: str) -> str:
    return endpoint if endpoint in cache or len(cache) < MAX_ENDPOINTS else OTHER_ENDPOINT


@dataclass(frozen=True, slots=True)
class GatewayMetrics:
    """The gateway's families: requests by endpoint and status, errors, in flight, latencies, documents."""

    requests: CounterFamily
    errors: CounterFamily
    in_flight: GaugeFamily
    latency: HistogramFamily
    executor_latency: HistogramFamily
    documents: CounterFamily
    _series: dict[str, EndpointSeries] = field(default_factory=dict)
    _executor_series: dict[tuple[str, str], Observations] = field(default_factory=dict)

    def series(self, endpoint: str) -> tuple[str, EndpointSeries]:
        """The endpoint as labelled (``OTHER_ENDPOINT`` past ``MAX_ENDPOINTS``) and its series."""
        endpoint = _endpoint_of(self._series, endpoint)
        found = self._series.get(endpoint)
        if found is None:
            found = self._series[endpoint] = EndpointSeries(
                self.requests.labels(endpoint, "SUCCESS"),
                self.in_flight.labels(endpoint),
                self.latency.labels(endpoint),
                self.documents.labels(endpoint),
            )
        return endpoint, found

    def executor_call(self, endpoint: str, executor: str) -> Observations:
        """The latency series of ``executor``'s calls for ``endpoint`` (as ``series`` labelled it)."""
        found = self._executor_series.get((endpoint, executor))
        if found is None:
            found = self._executor_series[endpoint, executor] = self.executor_latency.labels(endpoint, executor)
        return found

    @classmethod
    def register(cls, registry: CollectorRegistry) -> GatewayMetrics:
        """The families, registered in ``registry``."""
        metrics = cls(
            requests=CounterFamily(
                "docwire_gateway_requests", "Requests answered, by endpoint and status.", ("endpoint", "status")
            ),
            errors=CounterFamily(
                "docwire_gateway_errors", "Requests that failed, by endpoint and error class.", ("endpoint", "error")
            ),
            in_flight=GaugeFamily(
                "docwire_gateway_requests_in_flight", "Requests being routed now, by endpoint.", ("endpoint",)
            ),
            latency=HistogramFamily(
                "docwire_gateway_request_duration_seconds", "Time from a request's arrival to its reply, by endpoint.",
                ("endpoint",), LATENCY_BUCKETS,
            ),
            executor_latency=HistogramFamily(
                "docwire_gateway_executor_call_duration_seconds",
                "Time of each executor call the gateway makes, by endpoint and executor.",
                ("endpoint", "executor"), LATENCY_BUCKETS,
            ),
            documents=CounterFamily(
                "docwire_gateway_documents", "Documents received in requests, by endpoint.", ("endpoint",)
            ),
        )  # fmt: skip
        SeriesCollector(
            (
                metrics.requests,
                metrics.errors,
                metrics.in_flight,
                metrics.latency,
                metrics.executor_latency,
                metrics.documents,
            )
        ).register(registry)
        return metrics


@dataclass(frozen=True, slots=True)
class ExecutorMetrics:
    """An executor replica's families, each labelled with the executor's name and replica."""

    requests: CounterFamily
    errors: CounterFamily
    in_flight: GaugeFamily
    latency: HistogramFamily
    documents: CounterFamily
    executor: str = ""
    replica: str = "0"
    _series: dict[str, EndpointSeries] = field(default_factory=dict)

    def series(self, endpoint: str) -> tuple[str, EndpointSeries]:
        """The endpoint as labelled (``OTHER_ENDPOINT`` past ``MAX_ENDPOINTS``) and its series."""
        endpoint = _endpoint_of(self._series, endpoint)
        found = self._series.get(endpoint)
        if found is None:
            labels = (self.executor, self.replica, endpoint)
            found = self._series[endpoint] = EndpointSeries(
                self.requests.labels(*labels, "SUCCESS"),
                self.in_flight.labels(self.executor, self.replica),
                self.latency.labels(*labels),
                self.documents.labels(*labels),
            )
        return endpoint, found

    @classmethod
    def register(cls, registry: CollectorRegistry, executor: str, replica: int) -> ExecutorMetrics:
        """The families, registered in ``registry``."""
        labels = ("executor", "replica", "endpoint")
        metrics = cls(
            requests=CounterFamily(
                "docwire_executor_requests", "Requests served, by endpoint and status.", (*labels, "status")
            ),
            errors=CounterFamily(
                "docwire_executor_errors", "Requests that failed, by endpoint and error class.", (*labels, "error")
            ),
            in_flight=GaugeFamily(
                "docwire_executor_requests_in_flight", "Requests being served now.", ("executor", "replica")
            ),
            latency=HistogramFamily(
                "docwire_executor_request_duration_seconds", "Time to serve a request, by endpoint.", labels,
                LATENCY_BUCKETS,
            ),
            documents=CounterFamily("docwire_executor_documents", "Documents processed, by endpoint.", labels),
            executor=executor,
            replica=str(replica),
        )  # fmt: skip
        SeriesCollector(
            (metrics.requests, metrics.errors, metrics.in_flight, metrics.latency, metrics.documents)
        ).register(registry)
        return metrics


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> tuple[int, Callable[[], None]]:
    """Serves ``registry`` (plus this process's CPU and memory) over HTTP; returns the bound port and a stopper.

    Raises:
        OSError: the address cannot be bound.
    """
    ProcessCollector(registry=registry)
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5.0)

    return int(server.server_port), stop
