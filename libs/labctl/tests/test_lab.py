"""`labctl dev` (`make dev`) end to end: real simulator, exporter and Prometheus on spare ports."""

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.integration


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [int(sock.getsockname()[1]) for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def query(prometheus: int, expr: str) -> list[dict[str, object]]:
    answer = httpx.get(f"http://127.0.0.1:{prometheus}/api/v1/query", params={"query": expr})
    answer.raise_for_status()
    result: list[dict[str, object]] = answer.json()["data"]["result"]
    return result


def test_lab_comes_up_scrapes_the_pico_and_stops_cleanly() -> None:
    prometheus, sim, exporter, daq, dome, discovery = free_ports(6)
    lab = subprocess.Popen(
        [
            sys.executable, "-m", "labctl", "dev",
            f"--prometheus-port={prometheus}",
            f"--picotemp-sim-port={sim}",
            f"--picotemp-exporter-port={exporter}",
            f"--daq-port={daq}",
            f"--dome-port={dome}",
            f"--dome-discovery-port={discovery}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    assert lab.stdout is not None
    try:
        output = []
        for line in lab.stdout:
            output.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(output)
        assert f"http://127.0.0.1:{prometheus}" in text, text
        deadline = time.monotonic() + 40
        up: list[dict[str, object]] = []
        while time.monotonic() < deadline and not up:
            up = query(prometheus, "pico_up == 1")
            time.sleep(0.5)
        assert up, "Prometheus never saw pico_up == 1"
        deadline = time.monotonic() + 40
        targets: list[dict[str, object]] = []
        while time.monotonic() < deadline and len(targets) < 4:
            targets = query(prometheus, "up == 1")
            time.sleep(0.5)
        assert {t["metric"]["job"] for t in targets} == {"prometheus", "picotemp", "daq", "dome"}
        rules = httpx.get(f"http://127.0.0.1:{prometheus}/api/v1/rules").json()
        assert rules["data"]["groups"], "no alert rules were loaded"
        # A second lab on the same ports must refuse, naming the problem.
        second = subprocess.run(
            [sys.executable, "-m", "labctl", "dev", f"--prometheus-port={prometheus}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert "already running" in second.stderr
        # What `make dev-down` runs, from another process.
        down = subprocess.run(
            [sys.executable, "-m", "labctl", "dev-down"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert down.returncode == 0, down.stderr
        assert "stopped" in down.stdout
        assert lab.wait(timeout=30) == 0
    finally:
        if lab.poll() is None:
            lab.send_signal(signal.SIGINT)
            lab.wait(timeout=30)
    for port in (prometheus, sim, exporter, daq, dome):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
