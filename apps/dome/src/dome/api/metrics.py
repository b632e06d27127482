"""Prometheus metrics of the dome, from a snapshot the control process hands over.

The control process keeps its own counters and period histogram; at each scrape the API
fetches them over IPC (``refresh``) and this collector yields them as metric families, so
a restart of the API loses nothing and the control loop never blocks on a scrape.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from dome import __version__
from dome.control.ipc import AsyncIpcClient
from dome.core.controller import State
from dome.core.errors import NotConnectedError
from dome.core.ports import FrameError
from dome.core.shutter import ShutterState


class DomeCollector(Collector):
    def __init__(self, ipc: AsyncIpcClient) -> None:
        self._ipc = ipc
        self._status: dict[str, Any] | None = None
        self._loop: dict[str, Any] | None = None

    async def refresh(self) -> None:
        try:
            self._status = await self._ipc.call("status")
            self._loop = await self._ipc.call("loop_stats")
        except NotConnectedError:
            self._status, self._loop = None, None

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("dome", "The dome controller")
        info.add_metric([], {"version": __version__})
        yield info
        up = GaugeMetricFamily("dome_control_up", "1 when the control process answers")
        up.add_metric([], 1.0 if self._status is not None else 0.0)
        yield up
        status, loop = self._status or {}, self._loop or {}
        az = GaugeMetricFamily("dome_azimuth_degrees", "Where the slit points (encoder)")
        if status.get("azimuth") is not None:
            az.add_metric([], float(status["azimuth"]))
        yield az
        state = GaugeMetricFamily("dome_state", "1 for the current state", labels=["state"])
        for s in State:
            state.add_metric([s.value], 1.0 if status.get("state") == s.value else 0.0)
        yield state
        err = GaugeMetricFamily(
            "dome_tracking_error_degrees", "Slit azimuth minus target, while tracking"
        )
        if status.get("tracking_error_deg") is not None:
            err.add_metric([], float(status["tracking_error_deg"]))
        yield err
        band = GaugeMetricFamily(
            "dome_tracking_dead_band_degrees", "The error tracking lets pass before moving"
        )
        if status.get("tracking_dead_band_deg") is not None:
            band.add_metric([], float(status["tracking_dead_band_deg"]))
        yield band
        healthy = GaugeMetricFamily(
            "dome_control_loop_healthy", "1 while the control loop ticks on time, unfailed"
        )
        if status:
            healthy.add_metric([], 1.0 if status.get("loop_healthy") else 0.0)
        yield healthy
        homing = GaugeMetricFamily(
            "dome_homing_required", "1 while the position is unknown (find home first)"
        )
        if status:
            homing.add_metric([], 1.0 if status.get("homing_required") else 0.0)
        yield homing
        slaved = GaugeMetricFamily("dome_slaved", "1 while following the telescope")
        if status:
            slaved.add_metric([], 1.0 if status.get("slaved") else 0.0)
        yield slaved
        shutter = GaugeMetricFamily(
            "dome_shutter_state", "1 for the shutter's current state", labels=["state"]
        )
        current = (status.get("shutter") or {}).get("state")
        if current is not None:
            for shutter_state in ShutterState:
                label = shutter_state.label
                shutter.add_metric([label], 1.0 if current == label else 0.0)
        yield shutter
        safety = GaugeMetricFamily(
            "dome_safety_state",
            "1 for the weather/safety state: safe, unsafe (or unreadable), unmonitored",
            labels=["state"],
        )
        now_safety = (status.get("safety") or {}).get("state")
        if now_safety is not None:
            for name in ("safe", "unsafe", "unmonitored"):
                safety.add_metric([name], 1.0 if now_safety == name else 0.0)
        yield safety
        frames = CounterMetricFamily("dome_encoder_frames", "Good encoder frames read")
        frames.add_metric([], float(status.get("frames_ok", 0)))
        yield frames
        bad = CounterMetricFamily(
            "dome_encoder_frame_errors", "Encoder frames dropped, by kind", labels=["kind"]
        )
        counts = status.get("frame_errors", {})
        for kind in FrameError:
            bad.add_metric([kind.value], float(counts.get(kind.value, 0)))
        yield bad
        hist = HistogramMetricFamily(
            "dome_control_loop_period_seconds", "Time between control loop ticks"
        )
        if loop:
            cumulative, buckets = 0, []
            for bound, count in zip(
                [*loop["buckets"], float("inf")], loop["bucket_counts"], strict=True
            ):
                cumulative += count
                buckets.append(
                    ("+Inf" if bound == float("inf") else repr(bound), float(cumulative))
                )
            hist.add_metric([], buckets, float(loop["sum"]))
        yield hist


def build_registry(ipc: AsyncIpcClient) -> tuple[CollectorRegistry, DomeCollector]:
    registry = CollectorRegistry()
    collector = DomeCollector(ipc)
    registry.register(collector)
    return registry, collector
