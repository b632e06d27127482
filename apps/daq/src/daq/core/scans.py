"""Scans: declarative plans (move an actuator through points, read at each), run as jobs.

Every point is checked against the actuator's limits before the first move, so a plan
with one bad point is refused whole and nothing moves. Each point is recorded (in memory
for the API, and in a CSV file) as it is measured; cancelling stops the actuator.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from daq.core.errors import Conflict, NotFound
from daq.core.instruments import Sample
from daq.core.recorders import CsvRecorder, iso_utc
from labkit.logs import get_logger

log = get_logger(__name__)
State = Literal["running", "finished", "cancelled", "failed"]


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
class ScanPlan:
    points: list[float]
    readings: list[str]
    settle_s: float = 0.0
    samples_per_point: int = 1


@dataclass
class ScanPoint:
    index: int
    target: float
    actual: float
    time: str
    values: dict[str, float]


@dataclass
class Scan:
    id: str
    actuator: str
    plan: ScanPlan
    path: Path
    state: State = "running"
    points: list[ScanPoint] = field(default_factory=list)
    error: str | None = None
    started_at: str = ""
    ended_at: str | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def progress(self) -> float:
        return len(self.points) / len(self.plan.points) if self.plan.points else 1.0


def expand_range(start: float, stop: float, step: float) -> list[float]:
    """``start`` to ``stop`` inclusive in ``step``s (the sign of step is taken from the
    direction), without floating-point creep."""
    if step == 0 or not all(math.isfinite(v) for v in (start, stop, step)):
        raise ValueError("step must be a non-zero finite number")
    count = math.floor(abs(stop - start) / abs(step) + 1e-9) + 1
    direction = 1 if stop >= start else -1
    return [round(start + direction * abs(step) * i, 9) for i in range(count)]


class ScanManager:
    def __init__(
        self,
        data_dir: Path,
        read: Callable[[str], Sample],
        metadata: Callable[[list[str]], dict[str, Any]],
    ) -> None:
        self.data_dir = data_dir
        self._read = read
        self._metadata = metadata
        self._lock = threading.Lock()
        self._items: dict[str, Scan] = {}
        self._counter = itertools.count(1)

    def start(self, actuator: Actuator, plan: ScanPlan) -> Scan:
        running = [
            s.id for s in self.list() if s.state == "running" and s.actuator == actuator.label
        ]
        if running:
            raise Conflict(f"{actuator.label} is already being scanned by {running[0]}")
        for target in plan.points:
            actuator.check(target)  # refuse the whole plan before anything moves
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        ident = f"scan-{stamp}-{next(self._counter)}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / f"{ident}.csv"
        metadata = {
            **self._metadata(plan.readings),
            "scan": ident,
            "actuator": actuator.label,
            "points": plan.points,
            "settle_s": plan.settle_s,
            "samples_per_point": plan.samples_per_point,
        }
        scan = Scan(ident, actuator.label, plan, path, started_at=iso_utc(time.time()))
        recorder = CsvRecorder(path, ["target", "actual", *plan.readings], metadata)
        scan._thread = threading.Thread(
            target=self._run, args=(scan, actuator, recorder), daemon=True
        )
        with self._lock:
            self._items[ident] = scan
        scan._thread.start()
        log.info("scan started", id=ident, actuator=actuator.label, points=len(plan.points))
        return scan

    def _run(self, scan: Scan, actuator: Actuator, recorder: CsvRecorder) -> None:
        try:
            for index, target in enumerate(scan.plan.points):
                if scan._cancel.is_set():
                    break
                actual = actuator.move(target)
                if scan.plan.settle_s:
                    scan._cancel.wait(scan.plan.settle_s)
                values: dict[str, float] = {}
                flags: list[str] = []
                for name in scan.plan.readings:
                    samples = [self._read(name) for _ in range(scan.plan.samples_per_point)]
                    values[name] = sum(s.value for s in samples) / len(samples)
                    flags.extend(f"{name}: {f}" for s in samples for f in s.flags)
                now = time.time()
                point = ScanPoint(index, target, actual, iso_utc(now), values)
                status = "; ".join(sorted(set(flags))) or "ok"
                recorder.write(now, [target, actual, *values.values()], status)
                recorder.flush()
                scan.points.append(point)
            scan.state = "cancelled" if scan._cancel.is_set() else "finished"
        except Exception as exc:
            scan.state = "failed"
            scan.error = f"{type(exc).__name__}: {exc}"
            log.warning("scan failed", id=scan.id, error=scan.error)
        finally:
            if scan.state != "finished":
                try:
                    actuator.stop()
                except Exception as exc:  # already failing: report, do not mask
                    log.error("could not stop actuator", id=scan.id, error=str(exc))
            scan.ended_at = iso_utc(time.time())
            recorder.close({"state": scan.state, "ended_utc": scan.ended_at, "error": scan.error})

    def get(self, ident: str) -> Scan:
        with self._lock:
            if ident not in self._items:
                raise NotFound(f"no scan {ident!r}")
            return self._items[ident]

    def list(self) -> list[Scan]:
        with self._lock:
            return list(self._items.values())

    def cancel(self, ident: str, wait: float = 10.0) -> Scan:
        scan = self.get(ident)
        scan._cancel.set()
        if scan._thread is not None:
            scan._thread.join(wait)
        return scan

    def cancel_all(self) -> None:
        for scan in self.list():
            self.cancel(scan.id)
