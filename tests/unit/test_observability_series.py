"""docwire's lock-free series expose exactly what ``prometheus_client``'s own metrics expose for the same changes."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from docwire.observability.series import CounterFamily, GaugeFamily, HistogramFamily, SeriesCollector

#: Creation times differ between the two registries: compared as present, not by value.
_CREATED = re.compile(r"_created(\{[^}]*\})? \S+")


def _exposition(registry: CollectorRegistry) -> str:
    return _CREATED.sub(r"_created\1 T", generate_latest(registry).decode())


def test_the_series_expose_what_prometheus_clients_metrics_expose() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    labels = ("endpoint", "status")
    requests = Counter("x_requests", "Requests.", labels, registry=theirs)
    in_flight = Gauge("x_in_flight", "In flight.", ("endpoint",), registry=theirs)
    latency = Histogram("x_seconds", "Latency.", ("endpoint",), buckets=(0.001, 0.5, 1.0), registry=theirs)
    our_requests = CounterFamily("x_requests", "Requests.", labels)
    our_in_flight = GaugeFamily("x_in_flight", "In flight.", ("endpoint",))
    our_latency = HistogramFamily("x_seconds", "Latency.", ("endpoint",), (0.001, 0.5, 1.0))
    SeriesCollector((our_requests, our_in_flight, our_latency)).register(ours)
    requests.labels("/a", "OK").inc(3)
    our_requests.labels("/a", "OK").inc(3)
    requests.labels("/b", "ERROR").inc()
    our_requests.labels("/b", "ERROR").inc()
    in_flight.labels("/a").inc(2)
    our_in_flight.labels("/a").inc(2)
    in_flight.labels("/a").dec()
    our_in_flight.labels("/a").dec()
    for value in (0.0005, 0.001, 0.7, 1.0, 5.0):  # on a bound counts in that bucket; past the last, in +Inf
        latency.labels("/a").observe(value)
        our_latency.labels("/a").observe(value)
    latency.labels("/b")
    our_latency.labels("/b")  # a series with no observation yet
    assert _exposition(ours) == _exposition(theirs)
    assert 'x_seconds_bucket{endpoint="/a",le="1.0"} 4.0' in _exposition(ours)
