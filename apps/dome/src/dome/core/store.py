"""What survives a restart: sync offset, home and park azimuths, parked or not, and the
last known position of the dome with the encoder reading it was known at.

With an encoder geared to the dome by anything but 1:1 its reading alone is ambiguous
after a restart; the persisted position resolves it when the encoder still reads what
it read then (and the position was saved at rest, ``position_clean``).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path


@dataclass
class Persisted:
    sync_offset_deg: float = 0.0
    home_deg: float = 0.0
    park_deg: float = 180.0
    parked: bool = False
    # the machine angle (dome degrees before the sync offset) and the raw encoder count
    # it was measured with; clean once saved at rest (a crash mid-slew leaves it False)
    position_deg: float | None = None
    encoder_raw: int | None = None
    position_clean: bool = False


class PositionStore:
    """A small JSON file, replaced atomically so a power cut leaves the old or the new.

    ``save`` writes now (command threads); ``save_soon`` hands the value to a writer
    thread so the control loop never waits for the disk."""

    def __init__(self, path: Path | None, *, synchronous: bool = False) -> None:
        self._path = path
        self._synchronous = synchronous  # simulated-time tests: write at once
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: Persisted | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> Persisted:
        if self._path is None or not self._path.exists():
            return Persisted()
        data = json.loads(self._path.read_text())
        known = {k: v for k, v in data.items() if k in Persisted.__dataclass_fields__}
        return Persisted(**known)

    def save(self, value: Persisted) -> None:
        if self._path is None:
            return
        with self._lock:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_suffix(".tmp")
            with tmp.open("w") as fh:
                json.dump(asdict(value), fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path)

    def save_soon(self, value: Persisted) -> None:
        if self._path is None:
            return
        if self._synchronous:
            self.save(value)
            return
        self._pending = replace(value)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="positions", daemon=True)
            self._thread.start()
        self._wake.set()

    def flush(self) -> None:
        """Write what ``save_soon`` still holds (at shutdown)."""
        with self._flush_lock:  # read, clear and write as one: never an older value last
            pending, self._pending = self._pending, None
            if pending is not None:
                self.save(pending)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self.flush()
