"""Each device app recovers on its host without anyone: systemd restarts a killed process,
and the watchdog restarts a frozen one (the app feeds it only while it is healthy).

All apps are broken at once and then watched, so the session waits for the slowest
watchdog once instead of once per app.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
import testinfra

from labhosts.playbooks import PlaybookRun

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(600)]

PI, LAB_PC = "sbx-pi1", "sbx-lab1"
Address = Callable[[str], str]
Connect = Callable[[str], testinfra.host.Host]
Fetch = Callable[..., str]

# (host, unit, port of its /healthz or None)
APPS = [
    (PI, "dome-control", None),
    (PI, "dome-api", 8470),
    (LAB_PC, "daq", 8790),
    (PI, "picotemp-exporter", 3030),
]


def _main_pid(h: testinfra.host.Host, unit: str) -> int:
    return int(h.check_output(f"systemctl show -p MainPID --value {unit}"))


def _break_all(connect: Connect, signal: str) -> dict[str, int]:
    old = {}
    for name, unit, _port in APPS:
        h = connect(name)
        old[unit] = _main_pid(h, unit)
        h.check_output(f"kill -{signal} {old[unit]}")
    return old


def _wait_until_all_replaced(
    connect: Connect, old: dict[str, int], timeout: float
) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    new: dict[str, int] = {}
    while time.monotonic() < deadline and len(new) < len(APPS):
        for name, unit, _port in APPS:
            if unit in new:
                continue
            h = connect(name)
            pid = _main_pid(h, unit)
            if pid not in (0, old[unit]) and h.service(unit).is_running:
                new[unit] = pid
        time.sleep(1)
    missing = [unit for _n, unit, _p in APPS if unit not in new]
    assert not missing, f"not restarted within {timeout:.0f} s: {missing}"
    return new


def _wait_healthy(address: Address, fetch: Fetch, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = {(name, port) for name, _unit, port in APPS if port}
    while pending and time.monotonic() < deadline:
        for name, port in sorted(pending):
            try:
                if json.loads(fetch(f"http://{address(name)}:{port}/healthz"))["status"] == "ok":
                    pending.discard((name, port))
            except (OSError, ValueError, KeyError):
                pass
        time.sleep(1)
    assert not pending, f"not healthy again within {timeout:.0f} s: {sorted(pending)}"


def _journal(connect: Connect, name: str, unit: str) -> str:
    return str(connect(name).check_output(f"journalctl -u {unit} --no-pager -n 80 -o cat"))


def test_sigkill_is_restarted_by_systemd(
    first_converge: PlaybookRun, connect: Connect, address: Address, fetch: Fetch
) -> None:
    old = _break_all(connect, "KILL")
    _wait_until_all_replaced(connect, old, timeout=60)
    for name, unit, _port in APPS:
        assert "status=9/KILL" in _journal(connect, name, unit), unit
    _wait_healthy(address, fetch, timeout=60)


def test_sigstop_is_restarted_by_the_watchdog(
    first_converge: PlaybookRun, connect: Connect, address: Address, fetch: Fetch
) -> None:
    old = _break_all(connect, "STOP")
    # The slowest watchdog is the daemon's (WatchdogSec=30); systemd then aborts the
    # frozen process and restarts it.
    _wait_until_all_replaced(connect, old, timeout=90)
    for name, unit, _port in APPS:
        assert "Watchdog timeout" in _journal(connect, name, unit), unit
    _wait_healthy(address, fetch, timeout=60)
    # The exporter reads the Pico again, and the dome API reaches its control process.
    deadline = time.monotonic() + 30
    metrics, status = "", {}
    while time.monotonic() < deadline:
        metrics = fetch(f"http://{address(PI)}:3030/metrics")
        status = json.loads(fetch(f"http://{address(PI)}:8470/api/dome/status"))
        if re.search(r"^pico_up 1(\.0)?$", metrics, re.MULTILINE) and status.get("state") in (
            "idle",
            "slewing",
            "tracking",
            "parked",
        ):
            return
        time.sleep(1)
    pytest.fail(f"not serving again: {status}\n{metrics[-1500:]}")
