"""Fixtures: the simulated lab on real ptys, and the daemon's app served by a real uvicorn
on a loopback port (labkit's ServerThread)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from daq.api.app import create_app
from daq.assembly import Port, build_lab
from daq.config import DaqSettings, PortConfig
from daq.core.lab import Lab
from daq.sim.lab import SimLab
from daq.sim.loopback import LoopbackTransport
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
        # a generous bound on start-up: the lab connects every instrument first, and the
        # machine is shared (a bound, not a timing assertion)
        ServerThread(create_app(lab, TOKEN), start_timeout=60) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as client,
    ):
        yield Daemon(sims, lab, server.url, client, settings)


@pytest.fixture
def daemon(sims: SimLab, tmp_path: Path) -> Iterator[Daemon]:
    (tmp_path / "dev").mkdir(exist_ok=True)
    yield from serve_in_thread(make_settings(sims, tmp_path / "data"), sims)


# --- in-process (make check): the app on ASGI, instruments on loopback transports ----


INPROCESS_TOKEN = "inprocess-token-0123456789"
AUTH = {"Authorization": f"Bearer {INPROCESS_TOKEN}"}


@dataclass
class InProcess:
    lab: Lab
    sims: SimLab
    ports: dict[str, LoopbackTransport]
    settings: DaqSettings

    def request(self, method: str, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        app = self.app

        async def run() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://daq") as c:
                headers = kw.pop("headers", AUTH)
                return await c.request(method, path, json=json, headers=headers, **kw)

        return asyncio.run(run())

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, json=json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, json=json, **kw)

    def sent(self) -> dict[str, int]:
        return {kind: len(port.received) for kind, port in self.ports.items()}

    @property
    def app(self) -> Any:
        return self._app

    _app: Any = None


KINDS = {"esp300": "esp300", "pm1830c": "1830c", "maitai": "maitai", "ell14": "ell14"}


@contextmanager
def inprocess_lab(tmp_path: Path, **config_overrides: Any) -> Iterator[InProcess]:
    sims = SimLab(tmp_path / "dev", addresses=["0", "1"], warmup_seconds=0.3, shutter_lag=0.1)
    devices = {"esp300": sims.esp300, "1830c": sims.pm, "maitai": sims.maitai, "ell14": sims.ell14}
    ports: dict[str, LoopbackTransport] = {}

    def port(config: PortConfig, kind: str) -> Port:
        sim_kind = KINDS[kind]
        ports[sim_kind] = LoopbackTransport(devices[sim_kind], config.port, timeout=0.3)
        return ports[sim_kind]

    config = sims.config(tmp_path / "data")
    config["monitor_interval_s"] = 60  # no background polling: tests count the bytes sent
    for inst in config["instruments"]:  # type: ignore[attr-defined]
        if inst["kind"] == "maitai":
            inst["watchdog_s"] = 0
    config.update(config_overrides)
    settings = DaqSettings(api_token=INPROCESS_TOKEN, **config)  # type: ignore[arg-type]
    lab = build_lab(settings, ports=port)
    daemon = InProcess(lab, sims, ports, settings)
    daemon._app = create_app(lab, INPROCESS_TOKEN, manage_lab=False)
    lab.start()
    try:
        yield daemon
    finally:
        lab.shutdown()
        sims.stop()


@pytest.fixture
def daq(tmp_path: Path) -> Iterator[InProcess]:
    """The daemon in-process on loopback transports to the simulators."""
    (tmp_path / "dev").mkdir(exist_ok=True)
    with inprocess_lab(tmp_path) as daemon:
        yield daemon


@pytest.fixture
def inprocess() -> Any:
    """``inprocess(tmp_path, **config)``: the in-process daemon with other settings."""
    return inprocess_lab
