"""The exporter under a stand-in for systemd: a real notify socket (no systemd runs here)."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from picotemp.exporter.app import LoopMonitor
from picotemp.sim.background import BackgroundSimulator

EXPORTER = str(Path(sys.executable).parent / "picotemp-exporter")


def test_loop_monitor_is_unhealthy_while_the_loop_is_blocked() -> None:
    async def main() -> list[bool]:
        monitor = LoopMonitor(interval_seconds=0.05, limit_seconds=0.3)
        monitor.start()
        await asyncio.sleep(0.1)
        seen = [monitor.healthy()]
        time.sleep(0.5)  # noqa: ASYNC251 - blocking the event loop is the point
        seen.append(monitor.healthy())
        await asyncio.sleep(0.1)
        seen.append(monitor.healthy())
        await monitor.stop()
        seen.append(monitor.healthy())
        return seen

    assert asyncio.run(main()) == [True, False, True, False]


@pytest.mark.integration
def test_ready_watchdog_and_stopping_are_notified(
    simulator: BackgroundSimulator, tmp_path: Path, port: int
) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(20)
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
        "WATCHDOG_USEC": "500000",
        "PICO_SERVER_URL": simulator.url,
        "PICOTEMP_LISTEN": f"127.0.0.1:{port}",
    }
    proc = subprocess.Popen([EXPORTER], env=env, stderr=subprocess.DEVNULL)
    try:
        first = notify.recv(4096).decode()
        assert first.startswith("READY=1")
        # READY only once the socket accepts: a scrape right now must work.
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
        watchdogs = 0
        deadline = time.monotonic() + 5
        while watchdogs < 3 and time.monotonic() < deadline:
            watchdogs += notify.recv(4096).decode() == "WATCHDOG=1"
        assert watchdogs == 3
        proc.send_signal(signal.SIGSTOP)  # a frozen process feeds nothing
        notify.settimeout(1.0)
        with pytest.raises(TimeoutError):
            notify.recv(4096)
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        notify.settimeout(10)
        messages = []
        while "STOPPING=1" not in messages:
            messages.append(notify.recv(4096).decode())
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
