"""Counters, gauges and histograms kept as plain numbers, written by the event loop, read when scraped.

``prometheus_client``'s metrics take a lock for every change (a histogram's observation
takes two) behind several checks: about 1 µs each, 15 of them per request between the
gateway and an executor, as much as the rest of observing a request. docwire's series
are written only by their process's event loop, so here a change is one addition to a
number; ``SeriesCollector`` turns them into the same families (names, ``_total``,
buckets, ``_created``) when Prometheus scrapes, from the metrics server's thread. A
scrape may see a histogram between an observation's count and its sum: the next one
sees both.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

__all__ = ["Count", "CounterFamily", "GaugeFamily", "HistogramFamily", "Level", "Observations", "SeriesCollector"]


class Count:
    """One counter series."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1) -> None:
        """Adds ``amount`` (not negative)."""
        self.value += amount


class Level:
    """One gauge series."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        """Raises the gauge by ``amount``."""
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        """Lowers the gauge by ``amount``."""
        self.value -= amount


class Observations:
    """One histogram series: counts per bucket (not cumulative; the last one past every bound) and the sum."""

    __slots__ = ("_bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        """Counts ``amount`` in the first bucket whose bound is at least ``amount``."""
        self.counts[bisect_left(self._bounds, amount)] += 1
        self.sum += amount


_Series = TypeVar("_Series", Count, Level, Observations)


class _Family(Generic[_Series]):
    """A metric's name, help and label names, and its series by label values (made by ``make`` on first use)."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], make: Callable[[], _Series]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._make: Callable[[], _Series] = make
        self._series: dict[tuple[str, ...], _Series] = {}

    def labels(self, *values: str) -> _Series:
        """The series of these label values."""
        found = self._series.get(values)
        if found is None:
            found = self._series[values] = self._make()
        return found

    def _items(self) -> list[tuple[tuple[str, ...], _Series]]:
        """The series as they are now (a copy: the event loop may add one while a scrape reads)."""
        return list(self._series.items())


class CounterFamily(_Family[Count]):
    """A counter family (exposed as ``<name>_total`` and ``<name>_created``)."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        super().__init__(name, documentation, labelnames, Count)

    def collect(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, series in self._items():
            family.add_metric(values, series.value, created=series.created)
        return family


class GaugeFamily(_Family[Level]):
    """A gauge family."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        super().__init__(name, documentation, labelnames, Level)

    def collect(self) -> Metric:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, series in self._items():
            family.add_metric(values, series.value)
        return family


class HistogramFamily(_Family[Observations]):
    """A histogram family with upper bounds ``buckets`` (and ``+Inf``)."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]) -> None:
        bounds = tuple(float(bound) for bound in buckets)
        super().__init__(name, documentation, labelnames, lambda: Observations(bounds))
        self._les = [*(floatToGoString(bound) for bound in bounds), "+Inf"]  # type: ignore[no-untyped-call]

    def collect(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        created = GaugeMetricFamily(f"{self.name}_created", self.documentation, labels=self.labelnames)
        for values, series in self._items():
            total, cumulative = series.sum, []
            running = 0
            for le, count in zip(self._les, list(series.counts), strict=True):
                running += count
                cumulative.append((le, float(running)))
            family.add_metric(values, cumulative, total)
            created.add_metric(values, series.created)
        # A histogram's _created samples, as prometheus_client exposes them, are read back as part of it.
        family.samples.extend(sample._replace(name=f"{self.name}_created") for sample in created.samples)
        return family


class SeriesCollector(Collector):
    """Exposes ``families`` in a registry."""

    def __init__(self, families: Sequence[CounterFamily | GaugeFamily | HistogramFamily]) -> None:
        self._families = tuple(families)

    def collect(self) -> Iterator[Metric]:
        for family in self._families:
            yield family.collect()

    def register(self, registry: CollectorRegistry) -> None:
        """Adds these families to ``registry`` (which refuses a name it already has)."""
        registry.register(self)
