"""The daemon's Prometheus metrics, in a registry of its own (created at start so every
series exists at zero).

What is here and what is not: ``/metrics`` is served without the API token (Prometheus
scrapes it), so it carries the daemon's health only: instruments up or down, failed
exchanges, reconnects, command durations, rows written, the laser's watchdog, free space
in the data directory. Measured values (powers, positions, wavelengths) are research data
and are not exported here; they are read through the token-protected API.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from daq import __version__


class DataDirCollector(Collector):
    """Free and total bytes of the filesystem that holds the data directory, read at scrape
    time (node exporter cannot know which mount is the data directory)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def collect(self) -> Iterator[GaugeMetricFamily]:
        free = GaugeMetricFamily(
            "daq_data_dir_free_bytes", "Free bytes on the data directory's filesystem"
        )
        size = GaugeMetricFamily(
            "daq_data_dir_size_bytes", "Size of the data directory's filesystem in bytes"
        )
        path = self.path
        while not path.exists() and path != path.parent:
            path = path.parent  # not made yet: report the filesystem it will be on
        usage = shutil.disk_usage(path)
        free.add_metric([], usage.free)
        size.add_metric([], usage.total)
        yield free
        yield size


class DaqMetrics:
    def __init__(self, data_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.info = Gauge("daq_info", "The daemon's version", ["version"], registry=r)
        self.instrument_up = Gauge(
            "daq_instrument_up",
            "1 when the instrument's last exchange was good, 0 while it is down",
            ["instrument", "kind"],
            registry=r,
        )
        self.command_seconds = Histogram(
            "daq_command_duration_seconds",
            "Time from a command's request to the instrument's answer",
            ["instrument", "command"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.errors = Counter(
            "daq_instrument_errors_total",
            "Failed exchanges by instrument and error",
            ["instrument", "error"],
            registry=r,
        )
        self.reconnects = Counter(
            "daq_reconnects_total", "Times a lost port was opened again", ["instrument"], registry=r
        )
        self.flagged = Counter(
            "daq_readings_flagged_total",
            "Readings recorded as not good (saturated, over-range, busy)",
            ["reading", "flag"],
            registry=r,
        )
        self.rows = Counter(
            "daq_acquisition_rows_total", "Rows written by acquisitions and scans", registry=r
        )
        self.jobs = Counter(
            "daq_jobs_total",
            "Acquisitions and scans by how they ended",
            ["kind", "state"],
            registry=r,
        )
        self.watchdog_timeout = Gauge(
            "daq_laser_watchdog_timeout_seconds",
            "The laser's own watchdog time (pump off after this long without a command; 0 off)",
            ["instrument"],
            registry=r,
        )
        self.watchdog_fed = Gauge(
            "daq_laser_watchdog_fed_timestamp_seconds",
            "When the laser last answered the thread that feeds its watchdog (Unix time)",
            ["instrument"],
            registry=r,
        )
        if data_dir is not None:
            r.register(DataDirCollector(data_dir))
        self.info.labels(version=__version__).set(1)
        for kind in ("acquisition", "scan"):
            for state in ("finished", "stopped", "cancelled", "failed"):
                self.jobs.labels(kind=kind, state=state)

    def declare(self, instrument: str, kind: str) -> None:
        self.instrument_up.labels(instrument=instrument, kind=kind).set(0)
        self.reconnects.labels(instrument=instrument)
