"""Tear-down leaves nothing, even after a crash; set-up after a crash works.

Runs after the site tests (file order) because it takes the session's hosts down.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labhosts import Lab

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(600)]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _fake_crash_leftovers(lab: Lab) -> subprocess.Popen[bytes]:
    """What a run killed with SIGKILL leaves: a namespace with a process, a veth, a mount."""
    _ip("netns", "add", "lh-crashed")
    _ip("link", "add", "lh-crashed", "type", "veth", "peer", "name", "eth0", "netns", "lh-crashed")
    orphan = subprocess.Popen(["ip", "netns", "exec", "lh-crashed", "sleep", "600"])
    top = lab.layout.host_dir("crashed")
    for sub in ("lower", "upper", "work", "root"):
        (top / sub).mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={top / 'lower'},upperdir={top / 'upper'},workdir={top / 'work'}",
            str(top / "root"),
        ],
        check=True,
    )
    return orphan


def test_down_removes_everything_and_up_works_after_a_crash(lab: Lab) -> None:
    lab.down()
    assert lab.leftovers() == []

    orphan = _fake_crash_leftovers(lab)
    found = lab.leftovers()
    assert any("lh-crashed" in item for item in found), found
    assert any(item.startswith("mount ") for item in found), found

    # Set-up after the "crash": it cleans up first, then boots.
    lab.up(log=False)
    assert all(status.ssh for status in lab.status())
    assert orphan.wait(timeout=30) is not None  # killed with its namespace's processes
    assert not Path("/run/netns/lh-crashed").exists()

    lab.down()
    lab.down()  # idempotent
    assert lab.leftovers() == []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "lh-" not in netns
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert " lh-" not in links
