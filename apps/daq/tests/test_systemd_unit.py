"""The unit file has what the python_service/serial_devices roles rely on, and systemd
itself finds nothing wrong with it besides the not-yet-installed binary."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[1] / "systemd" / "daq.service"


def settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def test_unit_is_notify_with_watchdog_and_serial_group() -> None:
    s = settings()
    assert s["Type"] == ["notify"]
    assert int(s["WatchdogSec"][0]) > 0
    assert s["SupplementaryGroups"] == ["dialout"]
    assert s["RestartPreventExitStatus"] == ["2"]
    assert s["ExecStart"][0].endswith("daq serve --config /etc/daq/daq.yaml")
    assert s["LoadCredential"][0].startswith("DAQ_API_TOKEN:")  # labkit reads it by this name
    assert "char-ttyUSB rw" in s["DeviceAllow"]


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
def test_systemd_analyze_verify_finds_nothing_else() -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "is not executable" not in line
    ]
    assert problems == []
