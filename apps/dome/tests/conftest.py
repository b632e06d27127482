"""A real ``dome serve --sim`` (control and API processes) for the integration tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dome.control.ipc import IpcClient
from labkit.testing import ServiceProcess, free_port, wait_until

TOKEN = "test-token-not-secret"
FAST = {
    "DOME_MAX_SPEED_DEG_S": "15",
    "DOME_ACCELERATION_DEG_S2": "30",
    "DOME_CREEP_SPEED_DEG_S": "0.5",
}


@dataclass
class DomeServer:
    url: str
    state_dir: Path
    socket_path: Path
    discovery_port: int
    proc: subprocess.Popen[bytes]
    log: Path
    service: ServiceProcess

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def ipc(self) -> IpcClient:
        return IpcClient(self.socket_path)

    def sim(self) -> dict[str, Any]:
        client = self.ipc()
        try:
            result: dict[str, Any] = client.call("sim_state")
            return result
        finally:
            client.close()

    def status(self) -> dict[str, Any]:
        client = self.ipc()
        try:
            result: dict[str, Any] = client.call("status")
            return result
        finally:
            client.close()

    def wait(
        self, condition: Callable[[], bool], timeout: float = 30, every: float = 0.05
    ) -> float:
        start = time.monotonic()
        wait_until(condition, timeout=timeout, interval=every, context=self.service.describe)
        return time.monotonic() - start

    def idle(self, timeout: float = 60) -> None:
        self.wait(lambda: not self.status()["moving"], timeout)


def start_server(extra_env: dict[str, str] | None = None) -> DomeServer:
    state_dir = Path(tempfile.mkdtemp(prefix="dome-", dir="/tmp"))  # short: AF_UNIX path limit
    port, udp = free_port(), free_port(kind=socket.SOCK_DGRAM)
    env = {
        "DOME_API_TOKEN": TOKEN,
        "DOME_STATE_DIR": str(state_dir),
        "DOME_SOCKET_PATH": str(state_dir / "control.sock"),
        "DOME_ALPACA_DISCOVERY_PORT": str(udp),
        "DOME_ALPACA_DISCOVERY_HOST": "127.0.0.1",
        **FAST,
        **(extra_env or {}),
    }
    url = f"http://127.0.0.1:{port}"
    service = ServiceProcess(
        [sys.executable, "-m", "dome", "serve", "--sim", "--listen", f"127.0.0.1:{port}"],
        env=env,
        log=state_dir / "serve.log",
        name="dome serve",
        ready_url=f"{url}/healthz",
        ready_timeout=30,
    ).start()
    assert service.proc is not None
    return DomeServer(
        url, state_dir, state_dir / "control.sock", udp, service.proc, service.log, service
    )


def stop_server(server: DomeServer) -> int:
    server.service.stop(timeout=30)
    shutil.rmtree(server.state_dir, ignore_errors=True)
    return server.proc.returncode


@pytest.fixture(scope="module")
def dome_server() -> Iterator[DomeServer]:
    server = start_server()
    yield server
    stop_server(server)
