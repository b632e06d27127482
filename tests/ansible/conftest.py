"""Virtual Debian hosts for the Ansible tests: booted once per session, always removed.

The session's order matters and is fixed here: check mode on the fresh hosts, then the
first converge (fixtures), then the site and app tests, then the tests that take the hosts
down (``ORDER``).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest
import testinfra

from labctl.monitoring import Monitoring, Ports
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
    "test_firewall_on_virtual_hosts.py",
    "test_virtual_lab.py",
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


@pytest.fixture(scope="session", autouse=True)
def controller_ready(workspace: Path) -> None:
    """The sandbox vault and its password, and the controller's SSH key: ansible.cfg asks
    for the vault password on every run (whatever the inventory), and the sandbox
    inventory names the key. On a clean clone nothing else may have made them yet."""
    prepare_controller(workspace, [])


@dataclass(frozen=True)
class MakeLab:
    """`make lab` as the tests run it: its own state directory and spare ports."""

    workspace: Path
    state: Path
    ports: Ports

    def argv(self, command: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "labctl",
            command,
            f"--state-dir={self.state}",
            f"--prometheus-port={self.ports.prometheus}",
            f"--alertmanager-port={self.ports.alertmanager}",
            # PicoDown waits 5 minutes: the test waits 10 s (the rule files are copied with
            # every longer `for:` shortened; everything else is the repository's).
            "--alert-for-max=10s",
        ]

    def run(self, command: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.argv(command),
            cwd=self.workspace,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        # What it printed, for reading after the session (the converge log is beside it).
        runs = len(list(self.state.glob("make-lab-*.out")))
        (self.state / f"make-lab-{runs + 1}-{command}.out").write_text(done.stdout + done.stderr)
        return done

    def stop_monitoring(self) -> None:
        Monitoring(self.workspace, self.state, self.ports).stop()


@pytest.fixture(scope="session")
def make_lab(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> MakeLab:
    prometheus, alertmanager = _free_ports(2)
    return MakeLab(workspace, tmp_path_factory.mktemp("lab-state"), Ports(prometheus, alertmanager))


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [int(sock.getsockname()[1]) for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.fixture(scope="session")
def lab(workspace: Path, make_lab: MakeLab) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.fail("the virtual hosts need root (namespaces, mounts, systemd-nspawn)")
    lab = Lab()

    def clean_up() -> None:
        make_lab.stop_monitoring()
        lab.down()

    # Should the session die without running finalizers, still leave nothing behind:
    # atexit covers a normal exit, and SIGTERM is turned into an interrupt so pytest
    # unwinds through the finalizer below.
    atexit.register(clean_up)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        lab.up()
        prepare_controller(workspace, [h.name for h in lab.hosts])
        yield lab
    finally:
        clean_up()
        atexit.unregister(clean_up)
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
def make_lab_first(
    lab: Lab, make_lab: MakeLab, fresh_check: PlaybookRun
) -> subprocess.CompletedProcess[str]:
    """`make lab` on the fresh hosts (after the check-mode run): it keeps the running hosts,
    converges them with site.yml, starts Prometheus and Alertmanager, waits for every
    target and prints the summary. Every later test looks at what it built."""
    return make_lab.run("up")


def _converge_of(make_lab: MakeLab, done: subprocess.CompletedProcess[str]) -> PlaybookRun:
    """The site.yml run of a `make lab`, as it logged it (the whole ansible-playbook output)."""
    log = make_lab.state / "logs" / "converge.log"
    output = log.read_text() if log.exists() else done.stdout + done.stderr
    failed = "step converge failed" in done.stderr or not log.exists()
    return PlaybookRun(1 if failed else 0, output, 0.0)


@pytest.fixture(scope="session")
def first_converge(
    make_lab: MakeLab, make_lab_first: subprocess.CompletedProcess[str]
) -> PlaybookRun:
    """The first site.yml run, as `make lab` ran it."""
    return _converge_of(make_lab, make_lab_first)


@pytest.fixture(scope="session")
def make_lab_again(
    make_lab: MakeLab, first_converge: PlaybookRun
) -> tuple[subprocess.CompletedProcess[str], PlaybookRun]:
    """`make lab` on the lab it built: the second site.yml run, and what it kept."""
    done = make_lab.run("up")
    return done, _converge_of(make_lab, done)


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
