"""site.yml against real Debian hosts (systemd-nspawn) over SSH, checked with testinfra.

The tests share one session of hosts (conftest.py): check mode on the fresh hosts, then
`make lab` converges them (the first site.yml run), `make lab` again (the second, which
must change nothing), then the result is inspected. The device apps have their own
modules (test_device_apps_*, test_app_recovery_*), and so does the virtual lab's
monitoring (test_virtual_lab).
"""

from __future__ import annotations

import base64
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import testinfra

from labhosts import Lab
from labhosts.playbooks import PlaybookRun, run_playbook

Address = Callable[[str], str]
Connect = Callable[[str], testinfra.host.Host]
Fetch = Callable[..., str]

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(900)]

PI, LAB_PC = "sbx-pi1", "sbx-lab1"
EXPORTER, SIM = "picotemp-exporter", "picotemp-sim"


def assert_all_hosts_unchanged(run: PlaybookRun, lab: Lab) -> None:
    recap = run.recap()
    assert set(recap) == {h.name for h in lab.hosts}, run.output[-3000:]
    for name, counts in recap.items():
        assert counts["failed"] == 0, (name, run.output[-3000:])
        assert counts["unreachable"] == 0, (name, run.output[-3000:])
        assert counts["changed"] == 0, (name, counts, _changed_tasks(run.output))


def _changed_tasks(output: str) -> list[str]:
    tasks, current = [], ""
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            current = line
        elif line.startswith("changed:"):
            tasks.append(f"{current} {line}")
    return tasks


# -- converge -----------------------------------------------------------------------------


def test_check_mode_works_on_fresh_hosts(fresh_check: PlaybookRun, lab: Lab) -> None:
    """Before anything was applied: no unit, package or user exists yet, and nothing may
    fail for that (tasks that need them are guarded, as the model roles guard them)."""
    assert fresh_check.returncode == 0, fresh_check.output[-4000:]
    recap = fresh_check.recap()
    assert set(recap) == {h.name for h in lab.hosts}
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in recap.values())
    assert all(c["changed"] > 0 for c in recap.values()), "check mode should predict changes"
    # The Pi role ran as on real hardware and left the kernel alone: nothing was written.
    assert f"not checking the kernel of {PI}: the firmware files would change" in (
        " ".join(fresh_check.output.split())
    )


def test_first_converge_succeeds(first_converge: PlaybookRun, lab: Lab) -> None:
    assert first_converge.returncode == 0, first_converge.output[-4000:]
    recap = first_converge.recap()
    assert set(recap) == {h.name for h in lab.hosts}
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in recap.values())
    assert all(c["changed"] > 0 for c in recap.values()), "a fresh host should change"


def test_second_converge_changes_nothing(
    make_lab_again: tuple[subprocess.CompletedProcess[str], PlaybookRun], lab: Lab
) -> None:
    """`make lab` again on the lab it built runs site.yml a second time: nothing changes.
    (Check mode on a converged host is covered by the fresh-host run's stricter case.)"""
    _done, second = make_lab_again
    assert second.returncode == 0, second.output[-4000:]
    assert_all_hosts_unchanged(second, lab)


# -- what the hosts look like -------------------------------------------------------------


@pytest.mark.parametrize("name", [PI, LAB_PC])
def test_admin_user_and_sshd_hardening(
    first_converge: PlaybookRun, lab: Lab, connect: Connect, name: str
) -> None:
    h = connect(name)
    admin = h.user("pi")
    assert "sudo" in admin.groups
    assert h.file("/home/pi/.ssh/authorized_keys").mode == 0o600
    keys = h.file("/home/pi/.ssh/authorized_keys").content_string
    assert lab.ssh_key.with_suffix(".pub").read_text().split()[1] in keys
    effective = h.check_output("sshd -T")
    assert "permitrootlogin no" in effective
    assert "passwordauthentication no" in effective
    assert "kbdinteractiveauthentication no" in effective
    assert h.service("ssh").is_running


@pytest.mark.parametrize("name", [PI, LAB_PC])
def test_sshd_offers_only_public_keys(
    first_converge: PlaybookRun, lab: Lab, address: Address, name: str
) -> None:
    """Ask the server for password login, as an attacker would: it must refuse outright."""
    import subprocess

    done = subprocess.run(
        [
            "ssh",
            "-o",
            f"UserKnownHostsFile={lab.known_hosts}",
            "-o",
            "BatchMode=yes",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "ControlMaster=no",
            "-o",
            "ConnectTimeout=5",
            f"root@{address(name)}",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 255
    assert "Permission denied (publickey)" in done.stderr


@pytest.mark.parametrize("name", [PI, LAB_PC])
def test_time_locale_journal_and_upgrades(
    first_converge: PlaybookRun, connect: Connect, name: str
) -> None:
    h = connect(name)
    assert h.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Europe/Zurich"
    assert "LANG=en_GB.UTF-8" in h.file("/etc/default/locale").content_string
    assert "en_GB.utf8" in h.check_output("locale -a")
    assert "SystemMaxUse=200M" in h.file("/etc/systemd/journald.conf.d/50-base.conf").content_string
    assert h.package("unattended-upgrades").is_installed
    auto = h.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'Unattended-Upgrade "1"' in auto
    assert h.service("systemd-timesyncd").is_enabled
    assert h.check_output("hostname") == name


@pytest.mark.parametrize("name", [PI, LAB_PC])
def test_node_exporter_answers_on_9100(
    first_converge: PlaybookRun, connect: Connect, address: Address, fetch: Fetch, name: str
) -> None:
    h = connect(name)
    assert h.service("prometheus-node-exporter").is_running
    assert h.socket("tcp://0.0.0.0:9100").is_listening
    metrics = fetch(f"http://{address(name)}:9100/metrics")
    assert "node_exporter_build_info" in metrics
    # The textfile collector is on and reads the configured directory.
    assert "node_textfile_scrape_error 0" in metrics


def test_exporter_runs_as_its_own_user_and_reads_the_sim_on_the_other_host(
    first_converge: PlaybookRun, connect: Connect, address: Address, fetch: Fetch
) -> None:
    pi, pc = connect(PI), connect(LAB_PC)
    service = pi.service(EXPORTER)
    assert service.is_running
    assert service.is_enabled
    pid = pi.check_output(f"systemctl show -p MainPID --value {EXPORTER}")
    assert pi.check_output(f"ps -o user= -p {pid}") == EXPORTER
    account = pi.user(EXPORTER)
    assert account.uid < 1000
    assert account.shell == "/usr/sbin/nologin"
    # Settings from the inventory, in the YAML file the unit passes with --config.
    settings = pi.file(f"/etc/{EXPORTER}/{EXPORTER}.yaml")
    assert settings.mode == 0o640
    assert settings.user == "root"
    assert settings.group == EXPORTER
    assert f"PICO_SERVER_URL: http://{address(LAB_PC)}:8080/" in settings.content_string
    assert "cache_seconds: 2" in settings.content_string
    assert not pi.file(f"/etc/{EXPORTER}/{EXPORTER}.env").exists

    assert pc.service(SIM).is_running
    assert not pi.service(SIM).exists
    # The exporter reads the Pico at most once per cache window (2 s), and make lab's
    # Prometheus scrapes it too: keep asking until a new upstream request shows.
    state_before = _sim_requests(pc)
    deadline = time.monotonic() + 20
    while True:
        metrics = fetch(f"http://{address(PI)}:3030/metrics")
        assert re.search(r"^pico_up 1(\.0)?$", metrics, re.MULTILINE), metrics
        if _sim_requests(pc) > state_before:
            break
        assert time.monotonic() < deadline, "the exporter did not read the simulator"
        time.sleep(1)


def _sim_requests(pc: testinfra.host.Host) -> int:
    out = pc.check_output(
        "python3 -c 'import json,urllib.request;"
        'print(json.load(urllib.request.urlopen("http://127.0.0.1:8081/state"))["requests_total"])\''
    )
    return int(out)


def test_wheelhouse_installed_offline_into_opt(
    first_converge: PlaybookRun, connect: Connect
) -> None:
    pi = connect(PI)
    assert pi.file(f"/opt/{EXPORTER}/venv/bin/picotemp-exporter").is_file
    assert pi.file(f"/opt/{EXPORTER}/wheelhouse/requirements.txt").contains("^picotemp==")
    frozen = pi.check_output(f"/opt/{EXPORTER}/venv/bin/pip freeze")
    assert "labkit==" in frozen
    assert "picotemp==" in frozen


def test_udev_rules_name_instruments_by_serial_interface_or_usb_path(
    first_converge: PlaybookRun, connect: Connect
) -> None:
    rules = connect(LAB_PC).file("/etc/udev/rules.d/70-lab-serial-instruments.rules")
    assert rules.mode == 0o644
    lines = {
        line.split('SYMLINK+="', 1)[1].split('"', 1)[0]: line
        for line in rules.content_string.splitlines()
        if "SYMLINK+=" in line
    }
    assert set(lines) == {"lab/stage", "lab/meter", "lab/laser", "lab/rotators"}
    # By serial number; the keys are those udev's 60-serial.rules sets (usb_id, path_id).
    assert lines["lab/stage"] == (
        'SUBSYSTEM=="tty", ENV{ID_VENDOR_ID}=="0403", ENV{ID_MODEL_ID}=="6001", '
        'ENV{ID_SERIAL_SHORT}=="SBXESP300", SYMLINK+="lab/stage", GROUP="dialout", MODE="0660"'
    )
    # One port of a multi-port FTDI: the serial is the adapter's, the interface the port's.
    assert (
        'ENV{ID_SERIAL_SHORT}=="SBXFT2232", ENV{ID_USB_INTERFACE_NUM}=="00"' in lines["lab/laser"]
    )
    # A PL2303 has no serial number: by the USB port it is plugged into.
    assert 'ENV{ID_PATH}=="pci-0000:00:14.0-usb-0:2:1.0"' in lines["lab/meter"]
    assert "ID_SERIAL_SHORT" not in lines["lab/meter"]
    assert not connect(PI).file("/etc/udev/rules.d/70-lab-serial-instruments.rules").exists


def test_raspberry_pi_firmware_files(first_converge: PlaybookRun, connect: Connect) -> None:
    """As raspi-config leaves them for SPI, I2C and a serial device on a Pi 4 (the sandbox's
    board); the Pi 5 and the other serial variants: test_raspberry_pi_role.py."""
    pi = connect(PI)
    config = pi.file("/boot/firmware/config.txt").content_string.splitlines()
    for line in ("dtparam=spi=on", "dtparam=i2c_arm=on", "enable_uart=1"):
        assert config.count(line) == 1, line
    cmdline = pi.file("/boot/firmware/cmdline.txt").content_string
    assert len(cmdline.strip().splitlines()) == 1
    words = cmdline.split()
    for flag in ("cgroup_memory=1", "cgroup_enable=memory", "cgroup_enable=cpuset"):
        assert words.count(flag) == 1, flag
    # The UART drives a device: no kernel console and no getty on it.
    assert not any(w.startswith("console=serial0") for w in words), words
    assert words[0] == "console=tty1"
    assert pi.file("/etc/modules").content_string.splitlines().count("i2c-dev") == 1


@pytest.mark.parametrize("name", [PI, LAB_PC])
def test_k3s_prerequisites(first_converge: PlaybookRun, connect: Connect, name: str) -> None:
    h = connect(name)
    assert h.file("/etc/modules-load.d/k3s.conf").contains("^br_netfilter$")
    assert h.file("/etc/sysctl.d/90-k3s.conf").contains("^net.ipv4.ip_forward = 1$")
    assert h.file("/etc/ssl/certs/lab-ca.pem").is_symlink
    # The registry configuration is the cluster stack's (lab-registries.yaml, named by
    # k3s's private-registry): Ansible writes none.
    assert not h.file(REGISTRIES).exists


REGISTRIES = "/etc/rancher/k3s/registries.yaml"
# As the old k3s_prereqs template rendered it (header, docker.io mirror, HOST:PORT config).
ROLE_WROTE = """\
# Ansible managed
mirrors:
  "docker.io":
    endpoint:
      - "https://registry.sandbox.lab:5000"
configs:
  "registry.sandbox.lab:5000":
    auth:
      username: "lab-pull"
      password: "fixture-value-not-a-secret"
"""
# An operator's own file: no header, so it is not the role's to remove.
OPERATOR_WROTE = """\
# Kept by hand on this node (k3s reads the file that private-registry names, not this one)
mirrors:
  "docker.io":
    endpoint:
      - "https://mirror.example.invalid"
"""


def _put(h: testinfra.host.Host, text: str) -> None:
    encoded = base64.b64encode(text.encode()).decode()
    done = h.run(
        "mkdir -p /etc/rancher/k3s && echo %s | base64 -d > %s && chmod 0640 %s",
        encoded,
        REGISTRIES,
        REGISTRIES,
    )
    assert done.rc == 0, done.stderr


def test_k3s_prereqs_removes_only_its_own_registries_yaml(
    make_lab_again: tuple[subprocess.CompletedProcess[str], PlaybookRun],
    workspace: Path,
    connect: Connect,
) -> None:
    """A node converged by the old role keeps its stale registries.yaml until the role
    removes it; an operator's own registries.yaml is never touched. (After the lab's
    second converge, so the idempotency test above saw the hosts as site.yml left them.)"""
    stale, own = connect(PI), connect(LAB_PC)
    _put(stale, ROLE_WROTE)
    _put(own, OPERATOR_WROTE)
    own_before = own.check_output("stat -c '%%a %%U %%Y' %s", REGISTRIES)
    limit = f"--limit={PI},{LAB_PC}"
    try:
        # --check predicts the removal on the stale node and removes nothing.
        check = run_playbook(workspace, "playbooks/k3s-nodes.yml", "--check", limit)
        assert check.returncode == 0, check.output[-4000:]
        assert check.recap()[PI]["changed"] == 1, _changed_tasks(check.output)
        assert check.recap()[LAB_PC]["changed"] == 0, _changed_tasks(check.output)
        assert stale.file(REGISTRIES).exists

        first = run_playbook(workspace, "playbooks/k3s-nodes.yml", limit)
        assert first.returncode == 0, first.output[-4000:]
        assert not stale.file(REGISTRIES).exists
        assert own.file(REGISTRIES).content_string == OPERATOR_WROTE
        assert own.check_output("stat -c '%%a %%U %%Y' %s", REGISTRIES) == own_before
        # The slurped file holds a password: it never shows in the output.
        assert "fixture-value-not-a-secret" not in first.output

        second = run_playbook(workspace, "playbooks/k3s-nodes.yml", limit)
        assert second.returncode == 0, second.output[-4000:]
        assert {name: c["changed"] for name, c in second.recap().items()} == {
            PI: 0,
            LAB_PC: 0,
        }, _changed_tasks(second.output)
        assert own.file(REGISTRIES).content_string == OPERATOR_WROTE
    finally:
        for h in (stale, own):
            h.run("rm -f %s", REGISTRIES)
