"""`make lab` (labctl up), the virtual lab: the lab the earlier tests looked at was built by
it (conftest's make_lab_first); here it is watched, run again, made to raise an alert, and
removed.

Prometheus and Alertmanager run on this machine on spare ports with a state directory of
the test's own; the alert rules are the repository's, with `for:` shortened to 10 s (the
one change, so the test does not wait five minutes for PicoDown).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import testinfra

from labhosts import Lab
from labinfra.monitoring.scrape import NODE_EXPORTER_JOB

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(900)]

PI, LAB_PC = "sbx-pi1", "sbx-lab1"
Connect = Callable[[str], testinfra.host.Host]
EXPECTED_JOBS = {
    "prometheus": {"127.0.0.1"},
    "alertmanager": {"127.0.0.1"},
    NODE_EXPORTER_JOB: {"10.213.0.11", "10.213.0.12"},
    "dome": {"10.213.0.11"},
    "daq": {"10.213.0.12"},
    "picotemp": {"10.213.0.11"},
}


def targets(port: int) -> list[dict[str, object]]:
    answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/targets", timeout=10)
    answer.raise_for_status()
    found: list[dict[str, object]] = answer.json()["data"]["activeTargets"]
    return found


def test_make_lab_reported_each_step_and_printed_the_summary(
    make_lab_first: subprocess.CompletedProcess[str], lab: Lab
) -> None:
    out = make_lab_first.stdout
    assert make_lab_first.returncode == 0, (out + make_lab_first.stderr)[-4000:]
    # Progress: the step, the host, the time since the start.
    for step in ("hosts", "converge", "monitoring", "check"):
        assert re.search(rf"^lab \[\s*\d+\.\d+s\] {step}\b", out, re.MULTILINE), step
    assert re.search(r"^lab \[.*\] converge\s+sbx-lab1\s+changed: ", out, re.MULTILINE)
    # The summary: hosts and addresses, every service and its state, the URLs.
    for host in lab.hosts:
        assert re.search(rf"^  {host.name}\s+{host.address}\s", out, re.MULTILINE), host.name
    for unit in ("dome-control", "dome-api", "daq", "picotemp-exporter", "picotemp-sim"):
        assert re.search(rf"^  sbx-\w+\s+{unit}\s+active \(running\)", out, re.MULTILINE), unit
    for what in (
        "Prometheus",
        "Alertmanager",
        "Dome page",
        "Dome API",
        "Daemon live page",
        "Daemon API",
        "Pico W exporter",
    ):
        assert re.search(rf"^  {what}\s+http://\S+\s+answers$", out, re.MULTILINE), what


def test_every_target_is_up(make_lab_first: subprocess.CompletedProcess[str], make_lab) -> None:
    found: dict[str, set[str]] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = {}
        down = []
        for target in targets(make_lab.ports.prometheus):
            labels = target["labels"]
            assert isinstance(labels, dict)
            host = str(target["scrapeUrl"]).split("//", 1)[1].split(":", 1)[0]
            found.setdefault(str(labels["job"]), set()).add(host)
            if target["health"] != "up":
                down.append((labels["job"], host, target.get("lastError")))
        if found == EXPECTED_JOBS and not down:
            return
        time.sleep(2)
    pytest.fail(f"targets: {found} (expected {EXPECTED_JOBS}); not up: {down}")


def test_running_make_lab_again_converges_and_keeps_what_runs(
    make_lab_again: tuple[subprocess.CompletedProcess[str], object],
) -> None:
    again, _converge = make_lab_again
    out = again.stdout
    assert again.returncode == 0, (out + again.stderr)[-4000:]
    assert "virtual hosts running: kept" in out
    assert re.search(r"changed: sbx-lab1=0, sbx-pi1=0", out), out[-3000:]
    assert "prometheus: running, unchanged" in out
    assert "alertmanager: running, unchanged" in out
    assert "The virtual lab is up" in out


def test_make_lab_status_prints_the_summary_again(make_lab, lab: Lab) -> None:
    done = make_lab.run("status", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    for host in lab.hosts:
        assert re.search(rf"^  {host.name}\s+{host.address}\s", done.stdout, re.MULTILINE)
    assert re.search(r"^  Dome page\s+http://\S+\s+answers$", done.stdout, re.MULTILINE)


def test_a_stopped_pico_raises_pico_down_in_alertmanager(make_lab, connect: Connect) -> None:
    pc = connect(LAB_PC)
    pc.check_output("systemctl stop picotemp-sim")
    try:
        url = f"http://127.0.0.1:{make_lab.ports.alertmanager}/api/v2/alerts"
        deadline = time.monotonic() + 120
        alerts: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            alerts = httpx.get(url, params={"filter": 'alertname="PicoDown"'}, timeout=10).json()
            if alerts:
                break
            time.sleep(2)
        assert alerts, "PicoDown did not reach Alertmanager within 120 s"
        labels = alerts[0]["labels"]
        assert isinstance(labels, dict)
        assert labels["job"] == "picotemp"
        assert labels["instance"] == PI
        assert labels["severity"] == "warning"
    finally:
        pc.check_output("systemctl start picotemp-sim")


def test_make_lab_down_leaves_nothing(make_lab, lab: Lab) -> None:
    done = make_lab.run("down", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert lab.leftovers() == []
    state = str(make_lab.state)
    ours = [pid for pid in Path("/proc").iterdir() if pid.name.isdigit() and state in _cmdline(pid)]
    assert ours == [], "processes of the lab are left"
    for port in (make_lab.ports.prometheus, make_lab.ports.alertmanager):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "lh-" not in netns
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert " lh-" not in links
    mounts = Path("/proc/self/mountinfo").read_text()
    assert "/var/lib/labhosts" not in mounts


def _cmdline(pid: Path) -> str:
    try:
        return (pid / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""
