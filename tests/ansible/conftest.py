"""Virtual Debian hosts for the Ansible tests: booted once per session, always removed."""

from __future__ import annotations

import atexit
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from labhosts import Lab
from labhosts.playbooks import PlaybookRun, find_workspace, prepare_controller, run_playbook


@pytest.fixture(scope="session")
def workspace() -> Path:
    return find_workspace(Path(__file__).parent)


@pytest.fixture(scope="session")
def lab(workspace: Path) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.fail("the virtual hosts need root (namespaces, mounts, systemd-nspawn)")
    lab = Lab()
    # Should the session die without running finalizers, still leave nothing behind:
    # atexit covers a normal exit, and SIGTERM is turned into an interrupt so pytest
    # unwinds through the finalizer below.
    atexit.register(lab.down)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        lab.up()
        prepare_controller(workspace, [h.name for h in lab.hosts])
        yield lab
    finally:
        lab.down()
        atexit.unregister(lab.down)
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def first_converge(lab: Lab, workspace: Path) -> PlaybookRun:
    return run_playbook(workspace, "playbooks/site.yml")
