"""The daemon's Prometheus metrics, in a registry of its own (created at start so every
series exists at zero)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class DaqMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.info = Gauge("daq_info", "The daemon's version", ["version"], registry=r)
        self.instrument_up = Gauge(
            "daq_instrument_up",
            "1 when the instrument answered its last poll",
            ["instrument", "kind"],
            registry=r,
        )
        self.reading = Gauge(
            "daq_reading_value", "Latest value of each reading", ["reading"], registry=r
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
        self.rows = Counter(
            "daq_acquisition_rows_total", "Rows written by acquisitions", registry=r
        )
        self.info.labels(version="0.1.0").set(1)

    def declare(self, instrument: str, kind: str) -> None:
        self.instrument_up.labels(instrument=instrument, kind=kind).set(0)
        self.reconnects.labels(instrument=instrument)
