"""The exporter's metrics: the Pico's reading from the latest outcome, and self-metrics.

``pico_temperature`` is yielded only from a successful outcome that is still fresh, so a
down Pico shows ``pico_up 0`` and no temperature, never an old one as if current.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from importlib.metadata import version

from prometheus_client import CollectorRegistry, Counter, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from picotemp.exporter.singleflight import Outcome, ReadingCache
from picotemp.exporter.upstream import ERROR_REASONS


class PicoCollector(Collector):
    def __init__(self, cache: ReadingCache, stale_after_seconds: float) -> None:
        self._cache = cache
        self._stale_after_seconds = stale_after_seconds

    def current(self) -> Outcome | None:
        """The latest outcome unless it is too old to stand for the Pico now (which happens
        only if something collects without refreshing first)."""
        latest = self._cache.latest
        if latest is None:
            return None
        return latest if self._cache.age_seconds(latest) <= self._stale_after_seconds else None

    def collect(self) -> Iterator[Metric]:
        outcome = self.current()
        up = GaugeMetricFamily(
            "pico_up", "1 if the latest request to the Pico returned a valid reading, else 0"
        )
        up.add_metric([], 1 if outcome is not None and outcome.ok else 0)
        yield up
        if outcome is not None and outcome.reading is not None:
            temperature = GaugeMetricFamily(
                "pico_temperature",
                "RP2040 die temperature read by the Pico",
                labels=["unit"],
            )
            temperature.add_metric(["celsius"], outcome.reading.celsius)
            temperature.add_metric(["fahrenheit"], outcome.reading.fahrenheit)
            yield temperature
        if self._cache.latest is not None:
            duration = GaugeMetricFamily(
                "pico_scrape_duration_seconds",
                "How long the latest request to the Pico took, success or not",
            )
            duration.add_metric([], self._cache.latest.duration_seconds)
            yield duration
        if self._cache.last_success is not None:
            last = GaugeMetricFamily(
                "pico_last_success_timestamp_seconds",
                "Unix time of the latest valid reading from the Pico",
            )
            last.add_metric([], self._cache.last_success.finished_wall)
            yield last


class ExporterMetrics:
    """Everything ``/metrics`` shows, in a registry of its own (one per exporter instance)."""

    def __init__(self, cache: ReadingCache, stale_after_seconds: float) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.collector = PicoCollector(cache, stale_after_seconds)
        self.registry.register(self.collector)
        self.requests = Counter(
            "pico_upstream_requests",
            "Requests sent to the Pico (at most one per cache window)",
            registry=self.registry,
        )
        self.errors = Counter(
            "pico_scrape_errors",
            "Failed requests to the Pico, by reason",
            ["reason"],
            registry=self.registry,
        )
        for reason in ERROR_REASONS:
            self.errors.labels(reason)  # every series exists from the start, at zero
        build = Info(
            "picotemp_exporter_build", "Version of the running exporter", registry=self.registry
        )
        build.info({"version": version("picotemp"), "python": platform.python_version()})

    def record(self, outcome: Outcome) -> None:
        self.requests.inc()
        if outcome.error is not None:
            self.errors.labels(outcome.error.reason).inc()
