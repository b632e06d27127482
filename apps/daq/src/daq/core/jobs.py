"""One registry for every job that records data (acquisitions and scans): one id space,
one list, one way to stop, one limit on how many run at once."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from daq.core.errors import Conflict, NotFound
from daq.metrics import DaqMetrics

Kind = Literal["acquisition", "scan"]
MAX_RUNNING = 8
"""Jobs share the ports; more than a few at once only starve each other."""


@dataclass(kw_only=True)
class Job:
    id: str
    kind: Kind
    path: Path
    format: str
    readings: list[str]
    state: str = "running"
    rows: int = 0
    """Rows taken (the file has them once flushed; see ``rows_on_disk``)."""
    rows_on_disk: int = 0
    gap_rows: int = 0
    """Rows where a reading failed (its cell is empty and the status says why)."""
    flagged_rows: int = 0
    """Rows where a reading was flagged by its instrument (saturated, ...)."""
    started_at: str = ""
    ended_at: str | None = None
    error: str | None = None
    stop_event: threading.Event = field(default_factory=threading.Event, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.state == "running"


class JobRegistry:
    def __init__(self, metrics: DaqMetrics, max_running: int = MAX_RUNNING) -> None:
        self.metrics = metrics
        self.max_running = max_running
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._counter = itertools.count(1)

    def new_id(self, kind: Kind) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        prefix = "acq" if kind == "acquisition" else "scan"
        return f"{prefix}-{stamp}-{next(self._counter)}"

    def check_room(self) -> None:
        running = sum(j.running for j in self.list())
        if running >= self.max_running:
            raise Conflict(f"{running} jobs are running already (at most {self.max_running})")

    def start(self, job: Job, run: Callable[[], None]) -> None:
        """Register ``job`` and run ``run`` in its own thread."""

        def body() -> None:
            try:
                run()
            finally:
                self.metrics.jobs.labels(kind=job.kind, state=job.state).inc()

        job.thread = threading.Thread(target=body, name=job.id, daemon=True)
        with self._lock:
            self._jobs[job.id] = job
        job.thread.start()

    def get(self, ident: str, kind: Kind | None = None) -> Job:
        with self._lock:
            job = self._jobs.get(ident)
        if job is None or (kind is not None and job.kind != kind):
            raise NotFound(f"no {kind or 'job'} {ident!r}")
        return job

    def list(self, kind: Kind | None = None) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if kind is None or j.kind == kind]

    def stop(self, ident: str, kind: Kind | None = None, wait: float = 10.0) -> Job:
        job = self.get(ident, kind)
        job.stop_event.set()
        if job.thread is not None:
            job.thread.join(wait)
        return job

    def stop_all(self) -> None:
        for job in self.list():
            self.stop(job.id)
