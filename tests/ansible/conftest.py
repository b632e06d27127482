"""Virtual Debian hosts for the Ansible tests: booted once per session, always removed.

The session's order matters and is fixed here: check mode on the fresh hosts, then the
first converge (fixtures), then the site and app tests, then the tests that take the hosts
down (``ORDER``).
"""

from __future__ import annotations

import atexit
import os
import signal
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest
import testinfra

from labhosts import Lab
from labhosts.playbooks import (
    PlaybookRun,
    find_workspace,
    prepare_controller,
    run_playbook,
    vault_values,
)

# Modules that use the hosts, in the order they must run; the rest keep pytest's order.
ORDER = (
    "test_site_on_virtual_hosts.py",
    "test_device_apps_on_virtual_hosts.py",
    "test_app_recovery_on_virtual_hosts.py",
    "test_teardown_leaves_nothing.py",
)

PI, LAB_PC = "sbx-pi1", "sbx-lab1"
Connect = Callable[[str], testinfra.host.Host]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return ORDER.index(name) if name in ORDER else -1

    items.sort(key=rank)  # stable: tests keep their order within a module


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
def fresh_check(lab: Lab, workspace: Path) -> PlaybookRun:
    """`--check` on the hosts as they come, before anything was ever applied to them.

    The Pi role runs as on a real Pi here (raspberry_pi_hardware=real): its reboot and
    its checks of the running kernel are what check mode must not trip over (in check
    mode the reboot action only reports, so nothing reboots)."""
    return run_playbook(
        workspace, "playbooks/site.yml", "--check", "-e", "raspberry_pi_hardware=real"
    )


@pytest.fixture(scope="session")
def first_converge(lab: Lab, workspace: Path, fresh_check: PlaybookRun) -> PlaybookRun:
    return run_playbook(workspace, "playbooks/site.yml")


@pytest.fixture(scope="session")
def vault(workspace: Path, lab: Lab) -> dict[str, str]:
    return vault_values(workspace)


@pytest.fixture(scope="session")
def address(lab: Lab) -> Callable[[str], str]:
    addresses = {h.name: str(h.address) for h in lab.hosts}
    return addresses.__getitem__


@pytest.fixture(scope="session")
def connect(lab: Lab, address: Callable[[str], str]) -> Connect:
    """A testinfra host over SSH (sudo), by host name."""
    extra = (
        f"-o UserKnownHostsFile={lab.known_hosts} -o StrictHostKeyChecking=yes "
        f"-o ControlMaster=auto -o ControlPersist=30s "
        f"-o ControlPath={lab.layout.runtime}/cp/testinfra-%C"
    )

    def host(name: str) -> testinfra.host.Host:
        return testinfra.get_host(
            f"ssh://pi@{address(name)}",
            ssh_identity_file=str(lab.ssh_key),
            ssh_extra_args=extra,
            sudo=True,
        )

    return host


Fetch = Callable[..., str]


def _fetch(url: str, token: str | None = None, data: bytes | None = None) -> str:
    """GET (or POST ``data`` as JSON) a URL on a virtual host's own address."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:  # the test hosts only
        return str(response.read().decode())


@pytest.fixture(scope="session")
def fetch() -> Fetch:
    return _fetch
