"""Acquisitions: chosen readings sampled at a chosen rate into a crash-safe file.

A reading that fails (port unplugged, silence) leaves its cell empty and says why in the
row's ``status``: the file records the gap instead of hiding it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from daq.core.errors import Conflict, InstrumentFault, NotFound
from daq.core.instruments import Reading
from daq.core.recorders import CsvRecorder, ParquetRecorder, Recorder, iso_utc
from daq.core.stream import Broadcaster
from labkit.logs import get_logger

log = get_logger(__name__)

FLUSH_INTERVAL_S = 0.5
"""Rows go to disk twice a second, so even a late tick keeps a crash's loss within one."""
MAX_RUNNING = 8
"""Acquisitions share the ports; more than a few at once only starve each other."""
Format = Literal["csv", "parquet"]
State = Literal["running", "finished", "stopped", "failed"]


@dataclass(frozen=True)
class AcquisitionPlan:
    readings: list[str]
    rate_hz: float
    format: Format = "csv"
    duration_s: float | None = None
    label: str = ""


@dataclass
class Acquisition:
    id: str
    plan: AcquisitionPlan
    path: Path
    state: State = "running"
    rows: int = 0
    gap_rows: int = 0
    started_at: str = ""
    ended_at: str | None = None
    error: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)


def columns_for(readings: list[str], reading: Callable[[str], Reading]) -> list[str]:
    """Each reading's column, followed by ``<name>.status`` where the instrument reports a
    status byte with every value (the 1830-C's saturation and over-range bits)."""
    columns: list[str] = []
    for name in readings:
        columns.append(name)
        if reading(name).has_status:
            columns.append(f"{name}.status")
    return columns


class AcquisitionManager:
    def __init__(
        self,
        data_dir: Path,
        reading: Callable[[str], Reading],
        metadata: Callable[[list[str]], dict[str, Any]],
        stream: Broadcaster,
        on_row: Callable[[], None] = lambda: None,
    ) -> None:
        self.data_dir = data_dir
        self._reading = reading
        self._metadata = metadata
        self._stream = stream
        self._on_row = on_row
        self._lock = threading.Lock()
        self._items: dict[str, Acquisition] = {}
        self._counter = itertools.count(1)

    def start(self, plan: AcquisitionPlan) -> Acquisition:
        running = sum(a.state == "running" for a in self.list())
        if running >= MAX_RUNNING:
            raise Conflict(f"{running} acquisitions are running already (at most {MAX_RUNNING})")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        ident = f"acq-{stamp}-{next(self._counter)}"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / f"{ident}.{plan.format}"
        metadata = {
            **self._metadata(plan.readings),
            "acquisition": ident,
            "label": plan.label,
            "rate_hz": plan.rate_hz,
            "readings": plan.readings,
            "started_utc": iso_utc(time.time()),
            "flush_interval_s": FLUSH_INTERVAL_S,
        }
        columns = columns_for(plan.readings, self._reading)
        recorder: Recorder
        if plan.format == "csv":
            recorder = CsvRecorder(path, columns, metadata)
        else:
            recorder = ParquetRecorder(path, columns, metadata)
        item = Acquisition(ident, plan, path, started_at=metadata["started_utc"])
        item._thread = threading.Thread(
            target=self._run, args=(item, recorder), name=ident, daemon=True
        )
        with self._lock:
            self._items[ident] = item
        item._thread.start()
        log.info("acquisition started", id=ident, path=str(path), rate_hz=plan.rate_hz)
        return item

    def _run(self, item: Acquisition, recorder: Recorder) -> None:
        period = 1.0 / item.plan.rate_hz
        begin = time.monotonic()
        end = begin + item.plan.duration_s if item.plan.duration_s else None
        last_flush = begin
        tick = 0
        try:
            while not item._stop.is_set():
                now = time.monotonic()
                if end is not None and now >= end:
                    item.state = "finished"
                    break
                timestamp = time.time()
                values: list[float | None] = []
                shown: dict[str, float | None] = {}
                problems: list[str] = []
                for name in item.plan.readings:
                    source = self._reading(name)
                    try:
                        sample = source.read()
                    except InstrumentFault as exc:
                        values.append(None)
                        shown[name] = None
                        if source.has_status:
                            values.append(None)
                        problems.append(f"{name}: {exc}")
                        continue
                    values.append(sample.value)
                    shown[name] = sample.value
                    if source.has_status:
                        values.append(None if sample.status is None else float(sample.status))
                    problems.extend(f"{name}: {flag}" for flag in sample.flags)
                status = "; ".join(problems) if problems else "ok"
                recorder.write(timestamp, values, status)
                item.rows += 1
                item.gap_rows += bool(problems)
                self._on_row()
                self._stream.publish(
                    {
                        "acquisition": item.id,
                        "time": iso_utc(timestamp),
                        "values": shown,
                        "status": status,
                    }
                )
                # write out before the oldest buffered row could be more than a second old
                if time.monotonic() - last_flush + period >= FLUSH_INTERVAL_S:
                    recorder.flush()
                    last_flush = time.monotonic()
                tick += 1
                delay = begin + tick * period - time.monotonic()
                if delay < 0:  # fell behind (a slow reading): skip, do not burst
                    tick += int(-delay / period) + 1
                    delay = begin + tick * period - time.monotonic()
                item._stop.wait(max(0.0, delay))
            else:
                item.state = "stopped"
        except Exception as exc:
            item.state = "failed"
            item.error = f"{type(exc).__name__}: {exc}"
            log.exception("acquisition failed", id=item.id)
        finally:
            item.ended_at = iso_utc(time.time())
            recorder.close(
                {
                    "ended_utc": item.ended_at,
                    "rows": item.rows,
                    "gap_rows": item.gap_rows,
                    "state": item.state,
                }
            )
            log.info("acquisition ended", id=item.id, state=item.state, rows=item.rows)

    def get(self, ident: str) -> Acquisition:
        with self._lock:
            if ident not in self._items:
                raise NotFound(f"no acquisition {ident!r}")
            return self._items[ident]

    def list(self) -> list[Acquisition]:
        with self._lock:
            return list(self._items.values())

    def stop(self, ident: str, wait: float = 5.0) -> Acquisition:
        item = self.get(ident)
        item._stop.set()
        if item._thread is not None:
            item._thread.join(wait)
        return item

    def stop_all(self) -> None:
        for item in self.list():
            self.stop(item.id)
