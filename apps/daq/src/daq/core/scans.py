"""Scans: move one actuator through points (1-D) or two through a grid (2-D), read at each
point, record every point to a file in any format and stream it live.

Every target of every axis is checked against its actuator's limits before the first
move, so a plan with one bad point is refused whole and nothing moves. The grid runs the
first axis as the outer loop. Cancelling stops the actuators; a full disk ends the scan
as failed with every recorded point readable.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from daq.core.acquisition import RunInfo, columns_for
from daq.core.errors import Conflict, StorageError, ValueRefused
from daq.core.instruments import Reading
from daq.core.jobs import Job, JobRegistry
from daq.core.recorders import Format, Recorder, Reserve, check_columns, iso_utc, open_recorder
from daq.core.stream import Broadcaster
from labkit.logs import get_logger

log = get_logger(__name__)
MAX_POINTS = 10_000


class Actuator(Protocol):
    label: str

    def check(self, target: float) -> None:
        """Raise ValueRefused if ``target`` cannot be reached; sends nothing."""
        ...

    def move(self, target: float) -> float:
        """Go to ``target`` and wait until there; return where it ended up."""
        ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class ScanAxis:
    actuator: Actuator
    points: list[float]


@dataclass(frozen=True)
class ScanPlan:
    axes: list[ScanAxis]
    readings: list[str]
    settle_s: float = 0.0
    samples_per_point: int = 1
    format: Format = "csv"
    info: RunInfo = field(default_factory=RunInfo)

    @property
    def total_points(self) -> int:
        return math.prod(len(a.points) for a in self.axes)

    def grid(self) -> list[tuple[float, ...]]:
        """Every point, the first axis outermost."""
        points: list[tuple[float, ...]] = [()]
        for axis in self.axes:
            points = [(*p, t) for p in points for t in axis.points]
        return points


@dataclass
class ScanPoint:
    index: int
    targets: dict[str, float]
    actuals: dict[str, float]
    time: str
    values: dict[str, float]
    flags: list[str]


@dataclass(kw_only=True)
class Scan(Job):
    plan: ScanPlan
    actuators: list[str]
    points: list[ScanPoint] = field(default_factory=list)

    @property
    def progress(self) -> float:
        total = self.plan.total_points
        return len(self.points) / total if total else 1.0


def expand_range(start: float, stop: float, step: float) -> list[float]:
    """``start`` to ``stop`` inclusive in ``step``s (the sign of step is taken from the
    direction), without floating-point creep; refuses more than MAX_POINTS."""
    if step == 0 or not all(math.isfinite(v) for v in (start, stop, step)):
        raise ValueRefused("points.step must be a non-zero finite number")
    if abs(stop - start) / abs(step) >= MAX_POINTS:
        raise ValueRefused(f"points: the range has more than {MAX_POINTS} points")
    count = math.floor(abs(stop - start) / abs(step) + 1e-9) + 1
    direction = 1 if stop >= start else -1
    return [round(start + direction * abs(step) * i, 9) for i in range(count)]


def scan_columns(
    labels: list[str], readings: list[str], reading: Callable[[str], Reading]
) -> list[str]:
    axis_columns = [c for label in labels for c in (f"{label}.target", f"{label}.actual")]
    return [*axis_columns, *columns_for(readings, reading)]


class ScanManager:
    def __init__(
        self,
        registry: JobRegistry,
        data_dir: Path,
        reading: Callable[[str], Reading],
        metadata: Callable[[list[str]], dict[str, Any]],
        stream: Broadcaster,
        reserve: Reserve | None = None,
    ) -> None:
        self.registry = registry
        self.data_dir = data_dir
        self._reading = reading
        self._metadata = metadata
        self._stream = stream
        self._reserve = reserve

    def start(self, plan: ScanPlan) -> Scan:
        labels = [a.actuator.label for a in plan.axes]
        if not 1 <= len(plan.axes) <= 2:
            raise ValueRefused("axes: a scan has one or two axes")
        if len(set(labels)) != len(labels):
            raise ValueRefused(f"axes: one actuator twice: {labels}")
        if any(not a.points for a in plan.axes):
            raise ValueRefused("points: at least one point per axis is needed")
        if plan.total_points > MAX_POINTS:
            raise ValueRefused(f"points: {plan.total_points} points, at most {MAX_POINTS}")
        columns = scan_columns(labels, plan.readings, self._reading)
        check_columns(columns)
        busy = [s.id for s in self.list() if s.running and set(s.actuators) & set(labels)]
        if busy:
            raise Conflict(f"{', '.join(labels)} is already being scanned by {busy[0]}")
        for axis in plan.axes:
            for target in axis.points:
                axis.actuator.check(target)  # refuse the whole plan before anything moves
        self.registry.check_room()
        ident = self.registry.new_id("scan")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._reserve is not None:
            self._reserve.ensure()
        metadata = {
            **self._metadata(plan.readings),
            "scan": ident,
            "label": plan.info.label,
            "operator": plan.info.operator,
            "sample": plan.info.sample,
            "notes": plan.info.notes,
            "axes": [{"actuator": a.actuator.label, "points": a.points} for a in plan.axes],
            "grid_order": "first axis outermost",
            "readings": plan.readings,
            "settle_s": plan.settle_s,
            "samples_per_point": plan.samples_per_point,
            "started_utc": iso_utc(time.time()),
        }
        recorder = open_recorder(self.data_dir / ident, plan.format, columns, metadata)
        scan = Scan(
            id=ident,
            kind="scan",
            path=recorder.path,
            format=plan.format,
            readings=plan.readings,
            plan=plan,
            actuators=labels,
            started_at=metadata["started_utc"],
        )
        self.registry.start(scan, lambda: self._run(scan, recorder))
        log.info("scan started", id=ident, actuators=labels, points=plan.total_points)
        return scan

    def _measure(self, scan: Scan) -> tuple[dict[str, float], list[float | None], list[str]]:
        values: dict[str, float] = {}
        row: list[float | None] = []
        flags: list[str] = []
        for name in scan.plan.readings:
            source = self._reading(name)
            samples = [source.read() for _ in range(scan.plan.samples_per_point)]
            values[name] = sum(s.value for s in samples) / len(samples)
            row.append(values[name])
            if source.has_status:
                statuses = [s.status for s in samples if s.status is not None]
                combined = 0
                for status in statuses:
                    combined |= status
                row.append(float(combined) if statuses else None)
            flags.extend(sorted({f"{name}: {f}" for s in samples for f in s.flags}))
        return values, row, flags

    def _run(self, scan: Scan, recorder: Recorder) -> None:
        """Runs the points; the state turns final only once the file is finished, so a
        client that sees ``finished`` can open the file."""
        axes = scan.plan.axes
        state = "running"
        try:
            for index, targets in enumerate(scan.plan.grid()):
                if scan.stop_event.is_set():
                    break
                actuals = {}
                for axis, target in zip(axes, targets, strict=True):
                    actuals[axis.actuator.label] = axis.actuator.move(target)
                if scan.plan.settle_s:
                    scan.stop_event.wait(scan.plan.settle_s)
                values, row, flags = self._measure(scan)
                now = time.time()
                named_targets = {a.actuator.label: t for a, t in zip(axes, targets, strict=True)}
                point = ScanPoint(index, named_targets, actuals, iso_utc(now), values, flags)
                axis_values: list[float | None] = []
                for axis in axes:
                    axis_values += [
                        named_targets[axis.actuator.label],
                        actuals[axis.actuator.label],
                    ]
                recorder.write(now, [*axis_values, *row], "; ".join(flags) or "ok")
                before = recorder.rows
                recorder.flush()
                scan.rows_on_disk = recorder.rows
                self.registry.metrics.rows.inc(recorder.rows - before)
                scan.points.append(point)
                scan.rows += 1
                scan.flagged_rows += bool(flags)
                self._stream.publish(
                    {
                        "kind": "scan",
                        "scan": scan.id,
                        "index": index,
                        "total": scan.plan.total_points,
                        "time": point.time,
                        "targets": named_targets,
                        "actuals": actuals,
                        "values": values,
                        "status": "; ".join(flags) or "ok",
                    }
                )
            state = "cancelled" if scan.stop_event.is_set() else "finished"
        except StorageError as exc:
            state = "failed"
            scan.error = str(exc)
            if self._reserve is not None:
                self._reserve.release()
            log.error("scan stopped: storage", id=scan.id, error=scan.error)
        except Exception as exc:
            state = "failed"
            scan.error = f"{type(exc).__name__}: {exc}"
            log.warning("scan failed", id=scan.id, error=scan.error)
        finally:
            if state != "finished":
                for axis in axes:
                    try:
                        axis.actuator.stop()
                    except Exception as exc:  # already failing: report, do not mask
                        log.error("could not stop actuator", id=scan.id, error=str(exc))
            scan.ended_at = iso_utc(time.time())
            try:
                ending = recorder.close(
                    {
                        "state": state,
                        "ended_utc": scan.ended_at,
                        "error": scan.error,
                        "stop_reason": scan.error or scan.state,
                        "points_done": len(scan.points),
                    }
                )
                scan.rows_on_disk = int(ending["rows"])
            except StorageError as exc:
                state = "failed"
                scan.error = f"{scan.error + '; ' if scan.error else ''}{exc}"
            scan.state = state

    def get(self, ident: str) -> Scan:
        job = self.registry.get(ident, "scan")
        assert isinstance(job, Scan)
        return job

    def list(self) -> list[Scan]:
        return [j for j in self.registry.list("scan") if isinstance(j, Scan)]

    def cancel(self, ident: str, wait: float = 10.0) -> Scan:
        self.registry.stop(ident, "scan", wait)
        return self.get(ident)
