"""Fixtures: the simulated lab on real ptys, and the daemon's app served by a real uvicorn
on a loopback port (labkit's ServerThread)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from daq.api.app import create_app
from daq.assembly import build_lab
from daq.config import DaqSettings
from daq.core.lab import Lab
from daq.sim.lab import SimLab
from labkit.testing import ServerThread

TOKEN = "test-token-0123456789abcdef"


@dataclass
class Daemon:
    sims: SimLab
    lab: Lab
    url: str
    client: httpx.Client
    settings: DaqSettings

    def received(self) -> dict[str, int]:
        return {kind: len(port.received) for kind, port in self.sims.ports.items()}


def make_settings(sims: SimLab, data_dir: Path, **overrides: Any) -> DaqSettings:
    config = sims.config(data_dir)
    config["monitor_interval_s"] = 60  # no background polling: tests count the bytes sent
    for inst in config["instruments"]:  # type: ignore[attr-defined]
        if inst["kind"] == "maitai":
            inst["watchdog_s"] = 0  # so no polling is needed to keep the pump on
    config.update(overrides)
    return DaqSettings(api_token=TOKEN, **config)  # type: ignore[arg-type]


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[SimLab]:
    (tmp_path / "dev").mkdir()
    with SimLab(tmp_path / "dev", addresses=["0", "1"], warmup_seconds=0.5) as lab:
        yield lab


def serve_in_thread(settings: DaqSettings, sims: SimLab) -> Iterator[Daemon]:
    lab = build_lab(settings)
    with (
        ServerThread(create_app(lab, TOKEN)) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as client,
    ):
        yield Daemon(sims, lab, server.url, client, settings)


@pytest.fixture
def daemon(sims: SimLab, tmp_path: Path) -> Iterator[Daemon]:
    (tmp_path / "dev").mkdir(exist_ok=True)
    yield from serve_in_thread(make_settings(sims, tmp_path / "data"), sims)
