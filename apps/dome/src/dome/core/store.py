"""Positions that survive a restart: sync offset, home and park azimuths, parked or not."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Persisted:
    sync_offset_deg: float = 0.0
    home_deg: float = 0.0
    park_deg: float = 180.0
    parked: bool = False


class PositionStore:
    """A small JSON file, replaced atomically so a power cut leaves the old or the new one."""

    def __init__(self, path: Path | None) -> None:
        self._path = path

    def load(self) -> Persisted:
        if self._path is None or not self._path.exists():
            return Persisted()
        data = json.loads(self._path.read_text())
        known = {k: v for k, v in data.items() if k in Persisted.__dataclass_fields__}
        return Persisted(**known)

    def save(self, value: Persisted) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            json.dump(asdict(value), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._path)
