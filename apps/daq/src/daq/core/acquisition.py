"""Acquisitions: chosen readings sampled at a chosen rate into a crash-safe file.

A reading that fails (port unplugged, silence) leaves its cell empty and says why in the
row's ``status``; a reading its instrument flags (a saturated meter) keeps its value and
the flag goes in ``status`` too: the file records the gap or the doubt instead of hiding
it. A full disk ends the acquisition as failed, with every complete row readable and the
metadata saying how many rows there are and why it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daq.core.errors import InstrumentFault, StorageError
from daq.core.instruments import Reading
from daq.core.jobs import Job, JobRegistry
from daq.core.recorders import Format, Recorder, Reserve, check_columns, iso_utc, open_recorder
from daq.core.stream import Broadcaster
from labkit.logs import get_logger

log = get_logger(__name__)

FLUSH_INTERVAL_S = 0.5
"""Rows go to disk twice a second, so even a late tick keeps a crash's loss within one."""


@dataclass(frozen=True)
class RunInfo:
    """What the scientist says about a recording, kept in its file."""

    operator: str = ""
    sample: str = ""
    notes: str = ""
    label: str = ""


@dataclass(frozen=True)
class AcquisitionPlan:
    readings: list[str]
    rate_hz: float
    format: Format = "csv"
    duration_s: float | None = None
    info: RunInfo = field(default_factory=RunInfo)


@dataclass(kw_only=True)
class Acquisition(Job):
    plan: AcquisitionPlan


def columns_for(readings: list[str], reading: Callable[[str], Reading]) -> list[str]:
    """Each reading's column, followed by ``<name>.status`` where the instrument reports a
    status byte with every value (the 1830-C's saturation and over-range bits)."""
    columns: list[str] = []
    for name in readings:
        columns.append(name)
        if reading(name).has_status:
            columns.append(f"{name}.status")
    return columns


@dataclass
class Row:
    values: list[float | None]
    shown: dict[str, float | None]
    problems: list[str]
    failed: bool
    flagged: bool

    @property
    def status(self) -> str:
        return "; ".join(self.problems) if self.problems else "ok"


def take_row(readings: list[str], reading: Callable[[str], Reading]) -> Row:
    """Read each reading once: values in column order (with status columns), what the
    live stream shows, and why the row is not all good."""
    row = Row([], {}, [], False, False)
    for name in readings:
        source = reading(name)
        try:
            sample = source.read()
        except InstrumentFault as exc:
            row.values.append(None)
            if source.has_status:
                row.values.append(None)
            row.shown[name] = None
            row.problems.append(f"{name}: {exc}")
            row.failed = True
            continue
        row.values.append(sample.value)
        if source.has_status:
            row.values.append(None if sample.status is None else float(sample.status))
        row.shown[name] = sample.value
        if sample.flags:
            row.flagged = True
            row.problems.extend(f"{name}: {flag}" for flag in sample.flags)
    return row


class AcquisitionManager:
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

    def start(self, plan: AcquisitionPlan) -> Acquisition:
        check_columns(plan.readings)  # a repeated name is refused before any file exists
        for name in plan.readings:
            self._reading(name)  # an unknown name is refused here too
        self.registry.check_room()
        ident = self.registry.new_id("acquisition")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._reserve is not None:
            self._reserve.ensure()
        started = time.time()
        metadata = {
            **self._metadata(plan.readings),
            "acquisition": ident,
            "label": plan.info.label,
            "operator": plan.info.operator,
            "sample": plan.info.sample,
            "notes": plan.info.notes,
            "rate_hz": plan.rate_hz,
            "duration_s": plan.duration_s,
            "readings": plan.readings,
            "started_utc": iso_utc(started),
            "flush_interval_s": FLUSH_INTERVAL_S,
        }
        recorder = open_recorder(
            self.data_dir / ident, plan.format, columns_for(plan.readings, self._reading), metadata
        )
        item = Acquisition(
            id=ident,
            kind="acquisition",
            path=recorder.path,
            format=plan.format,
            readings=plan.readings,
            plan=plan,
            started_at=metadata["started_utc"],
        )
        self.registry.start(item, lambda: self._run(item, recorder))
        log.info("acquisition started", id=ident, path=str(recorder.path), rate_hz=plan.rate_hz)
        return item

    def _run(self, item: Acquisition, recorder: Recorder) -> None:
        """Takes rows until stopped, finished or failed; the state turns final only once
        the file is finished, so a client that sees it can open the file."""
        state = "running"
        period = 1.0 / item.plan.rate_hz
        begin = time.monotonic()
        end = begin + item.plan.duration_s if item.plan.duration_s else None
        last_flush = begin
        tick = 0
        try:
            while not item.stop_event.is_set():
                now = time.monotonic()
                if end is not None and now >= end:
                    state = "finished"
                    break
                timestamp = time.time()
                row = take_row(item.plan.readings, self._reading)
                recorder.write(timestamp, row.values, row.status)
                item.rows += 1
                item.gap_rows += row.failed
                item.flagged_rows += row.flagged
                self._stream.publish(
                    {
                        "kind": "acquisition",
                        "acquisition": item.id,
                        "time": iso_utc(timestamp),
                        "values": row.shown,
                        "status": row.status,
                    }
                )
                # write out before the oldest buffered row could be more than a second old
                if time.monotonic() - last_flush + period >= FLUSH_INTERVAL_S:
                    self._flush(item, recorder)
                    last_flush = time.monotonic()
                tick += 1
                delay = begin + tick * period - time.monotonic()
                if delay < 0:  # fell behind (a slow reading): skip, do not burst
                    tick += int(-delay / period) + 1
                    delay = begin + tick * period - time.monotonic()
                item.stop_event.wait(max(0.0, delay))
            else:
                state = "stopped"
        except StorageError as exc:
            state = "failed"
            item.error = str(exc)
            if self._reserve is not None:
                self._reserve.release()  # room to finish the file and its metadata
            log.error("acquisition stopped: storage", id=item.id, error=item.error)
        except Exception as exc:
            state = "failed"
            item.error = f"{type(exc).__name__}: {exc}"
            log.exception("acquisition failed", id=item.id)
        finally:
            item.state = self._close(item, recorder, state)

    def _flush(self, item: Acquisition, recorder: Recorder) -> None:
        before = recorder.rows
        recorder.flush()
        item.rows_on_disk = recorder.rows
        self.registry.metrics.rows.inc(recorder.rows - before)

    def _close(self, item: Acquisition, recorder: Recorder, state: str) -> str:
        """Finish the file; returns the final state."""
        item.ended_at = iso_utc(time.time())
        summary = {
            "ended_utc": item.ended_at,
            "state": state,
            "stop_reason": item.error or state,
            "rows_taken": item.rows,
            "gap_rows": item.gap_rows,
            "flagged_rows": item.flagged_rows,
        }
        try:
            ending = recorder.close(summary)
            item.rows_on_disk = int(ending["rows"])
            if "error" in ending and item.error is None:
                state, item.error = "failed", str(ending["error"])
        except StorageError as exc:
            state = "failed"
            item.error = f"{item.error + '; ' if item.error else ''}{exc}"
            log.error("could not finish the file", id=item.id, error=str(exc))
        log.info("acquisition ended", id=item.id, state=state, rows=item.rows_on_disk)
        return state

    def get(self, ident: str) -> Acquisition:
        job = self.registry.get(ident, "acquisition")
        assert isinstance(job, Acquisition)
        return job

    def list(self) -> list[Acquisition]:
        return [j for j in self.registry.list("acquisition") if isinstance(j, Acquisition)]

    def stop(self, ident: str, wait: float = 5.0) -> Acquisition:
        self.registry.stop(ident, "acquisition", wait)
        return self.get(ident)
