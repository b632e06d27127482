"""Fixtures shared by picotemp's tests: the simulator in a thread, and the exporter as a
real process (its console script), on labkit's test helpers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labkit.testing import ServiceProcess, free_port
from picotemp.sim.background import BackgroundSimulator
from picotemp.sim.sensor import TemperatureCurve

BIN = Path(sys.executable).parent


class ExporterProcess(ServiceProcess):
    """``picotemp-exporter`` as a real process, ready once ``/healthz`` answers 200."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        super().__init__(
            [str(BIN / "picotemp-exporter")],
            env=env,
            log=log,
            name="picotemp-exporter",
            ready_url=self.url + "/healthz",
            ready_timeout=20,
        )
        self.start()


@pytest.fixture
def simulator() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(curve=TemperatureCurve(23.4, 0.0, 600.0)) as sim:
        yield sim


@pytest.fixture(scope="module")
def module_simulator() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(curve=TemperatureCurve(23.4, 0.0, 600.0)) as sim:
        yield sim


ExporterFactory = Callable[..., ExporterProcess]


def _exporter_factory(tmp: Path) -> Iterator[ExporterFactory]:
    started: list[ExporterProcess] = []

    def start(server_url: str, **settings: str) -> ExporterProcess:
        port = free_port()
        env = {
            "PICO_SERVER_URL": server_url,
            "PICOTEMP_LISTEN": f"127.0.0.1:{port}",
            **{f"PICOTEMP_{key.upper()}": value for key, value in settings.items()},
        }
        exporter = ExporterProcess(env, port, tmp / f"exporter-{port}.log")
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        exporter.stop()


@pytest.fixture
def start_exporter(tmp_path: Path) -> Iterator[ExporterFactory]:
    yield from _exporter_factory(tmp_path)


@pytest.fixture(scope="module")
def start_module_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExporterFactory]:
    yield from _exporter_factory(tmp_path_factory.mktemp("exporter"))


@pytest.fixture
def port() -> int:
    return free_port()
