"""Fixtures shared by picotemp's tests: free ports, the simulator in a thread, and the
exporter as a real process (its console script)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from picotemp.sim.background import BackgroundSimulator
from picotemp.sim.sensor import TemperatureCurve

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class ExporterProcess:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            [str(BIN / "picotemp-exporter")],
            env={**os.environ, **env},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                lambda: http_ok(self.url + "/healthz") or self.proc.poll() is not None,
                20,
                "exporter",
            )
            assert self.proc.poll() is None, f"exporter exited: {self.log.read_text()}"
        except BaseException:
            self.stop()
            raise

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode


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
