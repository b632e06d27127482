"""The systemd units: what the python_service role relies on, and systemd's own check."""

from __future__ import annotations

import subprocess
from pathlib import Path

UNITS = Path(__file__).parents[1] / "systemd"


def directives(name: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_control_unit_is_notify_with_a_watchdog_and_only_its_devices() -> None:
    d = directives("dome-control.service")
    assert d["Type"] == ["notify"]
    assert int(d["WatchdogSec"][0]) > 0
    assert d["ExecStart"][0].split()[1] == "control"
    assert d["DevicePolicy"] == ["closed"]
    allowed = {v.split()[0] for v in d["DeviceAllow"]}
    assert any(a.startswith("/dev/spidev") for a in allowed)
    assert any(a.startswith("/dev/gpiochip") for a in allowed)
    assert d["RestartPreventExitStatus"] == ["2"]
    assert "Requires" not in d  # depends on no other unit
    assert "BindsTo" not in d


def test_api_unit_gets_the_token_as_a_credential_and_no_devices() -> None:
    d = directives("dome-api.service")
    assert d["Type"] == ["notify"]
    assert d["ExecStart"][0].split()[1] == "api"
    assert d["LoadCredential"][0].startswith("dome_api_token:")
    assert d["PrivateDevices"] == ["yes"]
    assert "DeviceAllow" not in d


def test_systemd_analyze_accepts_the_units() -> None:
    units = [str(p) for p in sorted(UNITS.glob("*.service"))]
    r = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # the venv is not installed here; everything else must be clean
    problems = [
        line
        for line in (r.stdout + r.stderr).splitlines()
        if line.strip() and "/opt/dome/.venv/bin/dome is not executable" not in line
    ]
    assert problems == []
