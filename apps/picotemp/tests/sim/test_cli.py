"""``picotemp-sim`` as a process, the way `make lab` runs it."""

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from labkit.testing import free_ports, http_status, wait_until

pytestmark = pytest.mark.integration

SIM = str(Path(sys.executable).parent / "picotemp-sim")


def wait_for(url: str, proc: subprocess.Popen[bytes]) -> None:
    """Until ``url`` answers anything; fail at once if the simulator exited."""

    def answered() -> bool:
        assert proc.poll() is None, "picotemp-sim exited early"
        return http_status(url) is not None

    wait_until(answered, timeout=20, what=f"{url} to answer")


def test_serves_switches_faults_over_control_and_stops_on_sigterm() -> None:
    device, control = free_ports(2)
    proc = subprocess.Popen(
        [
            SIM,
            "--listen",
            f"127.0.0.1:{device}",
            "--control",
            f"127.0.0.1:{control}",
            "--base",
            "30",
            "--amplitude",
            "0",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{control}/state", proc)
        reading = httpx.get(f"http://127.0.0.1:{device}/", timeout=5).json()
        assert reading["tempC"] == pytest.approx(30, abs=0.05)

        bad = httpx.put(f"http://127.0.0.1:{control}/fault", json={"fault": "melt"}, timeout=5)
        assert bad.status_code == 422
        assert "fault" in bad.text
        state = httpx.get(f"http://127.0.0.1:{control}/state", timeout=5).json()
        assert state["fault"] == "none"
        assert state["requests_total"] == 1

        changed = httpx.put(
            f"http://127.0.0.1:{control}/fault", json={"fault": "error"}, timeout=5
        ).json()
        assert changed["fault"] == "error"
        assert httpx.get(f"http://127.0.0.1:{device}/", timeout=5).status_code == 500

        httpx.put(f"http://127.0.0.1:{control}/fault", json={"fault": "down"}, timeout=5)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{device}/", timeout=5)
        state = httpx.get(f"http://127.0.0.1:{control}/state", timeout=5).json()
        assert (state["listening"], state["requests_total"]) == (False, 2)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_without_control_it_still_stops_on_sigterm() -> None:
    (device,) = free_ports(1)
    proc = subprocess.Popen([SIM, "--listen", f"127.0.0.1:{device}"], stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{device}/", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize(
    ("args", "complaint"),
    [(["--listen", "nowhere"], "--listen"), (["--listen", ":0", "--period", "0"], "period")],
)
def test_bad_arguments_exit_2_with_the_reason(args: list[str], complaint: str) -> None:
    done = subprocess.run([SIM, *args], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert complaint in done.stderr
