"""site.yml against real Debian hosts (systemd-nspawn) over SSH, checked with testinfra.

The tests share one session of hosts and run in file order: converge, converge again,
check mode, then inspect the result, then break the Pico W exporter on purpose.
"""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

import pytest
import testinfra

from labhosts import Lab
from labhosts.playbooks import PlaybookRun, run_playbook

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(900)]

PI, LAB_PC = "sbx-pi1", "sbx-lab1"
EXPORTER, SIM = "picotemp-exporter", "picotemp-sim"


def address(lab: Lab, name: str) -> str:
    return next(str(h.address) for h in lab.hosts if h.name == name)


def host(lab: Lab, name: str) -> testinfra.host.Host:
    extra = (
        f"-o UserKnownHostsFile={lab.known_hosts} -o StrictHostKeyChecking=yes "
        f"-o ControlMaster=auto -o ControlPersist=30s "
        f"-o ControlPath={lab.layout.runtime}/cp/testinfra-%C"
    )
    return testinfra.get_host(
        f"ssh://pi@{address(lab, name)}",
        ssh_identity_file=str(lab.ssh_key),
        ssh_extra_args=extra,
        sudo=True,
    )


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # the hosts' own addresses
        return str(response.read().decode())


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


def test_first_converge_succeeds(first_converge: PlaybookRun, lab: Lab) -> None:
    assert first_converge.returncode == 0, first_converge.output[-4000:]
    recap = first_converge.recap()
    assert set(recap) == {h.name for h in lab.hosts}
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in recap.values())
    assert all(c["changed"] > 0 for c in recap.values()), "a fresh host should change"


def test_second_converge_changes_nothing(
    first_converge: PlaybookRun, lab: Lab, workspace: Path
) -> None:
    assert first_converge.returncode == 0
    second = run_playbook(workspace, "playbooks/site.yml")
    assert second.returncode == 0, second.output[-4000:]
    assert_all_hosts_unchanged(second, lab)


def test_check_diff_changes_nothing(first_converge: PlaybookRun, lab: Lab, workspace: Path) -> None:
    assert first_converge.returncode == 0
    check = run_playbook(workspace, "playbooks/site.yml", "--check", "--diff")
    assert check.returncode == 0, check.output[-4000:]
    assert_all_hosts_unchanged(check, lab)


# -- what the hosts look like -------------------------------------------------------------


@pytest.mark.parametrize("name", [PI, LAB_PC])
def test_admin_user_and_sshd_hardening(first_converge: PlaybookRun, lab: Lab, name: str) -> None:
    h = host(lab, name)
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
def test_sshd_offers_only_public_keys(first_converge: PlaybookRun, lab: Lab, name: str) -> None:
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
            f"root@{address(lab, name)}",
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
def test_time_locale_journal_and_upgrades(first_converge: PlaybookRun, lab: Lab, name: str) -> None:
    h = host(lab, name)
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
def test_node_exporter_answers_on_9100(first_converge: PlaybookRun, lab: Lab, name: str) -> None:
    h = host(lab, name)
    assert h.service("prometheus-node-exporter").is_running
    assert h.socket("tcp://0.0.0.0:9100").is_listening
    metrics = fetch(f"http://{address(lab, name)}:9100/metrics")
    assert "node_exporter_build_info" in metrics
    # The textfile collector is on and reads the configured directory.
    assert "node_textfile_scrape_error 0" in metrics


def test_exporter_runs_as_its_own_user_and_reads_the_sim_on_the_other_host(
    first_converge: PlaybookRun, lab: Lab
) -> None:
    pi, pc = host(lab, PI), host(lab, LAB_PC)
    service = pi.service(EXPORTER)
    assert service.is_running
    assert service.is_enabled
    pid = pi.check_output(f"systemctl show -p MainPID --value {EXPORTER}")
    assert pi.check_output(f"ps -o user= -p {pid}") == EXPORTER
    account = pi.user(EXPORTER)
    assert account.uid < 1000
    assert account.shell == "/usr/sbin/nologin"
    env = pi.file(f"/etc/{EXPORTER}/{EXPORTER}.env")
    assert env.mode == 0o640
    assert env.group == EXPORTER
    assert f"http://{address(lab, LAB_PC)}:8080/" in env.content_string

    assert pc.service(SIM).is_running
    assert not pi.service(SIM).exists
    state_before = _sim_requests(pc)
    metrics = fetch(f"http://{address(lab, PI)}:3030/metrics")
    assert re.search(r"^pico_up 1(\.0)?$", metrics, re.MULTILINE), metrics
    assert _sim_requests(pc) > state_before, "the exporter did not read the simulator"


def _sim_requests(pc: testinfra.host.Host) -> int:
    out = pc.check_output(
        "python3 -c 'import json,urllib.request;"
        'print(json.load(urllib.request.urlopen("http://127.0.0.1:8081/state"))["requests_total"])\''
    )
    return int(out)


def test_exporter_unit_is_supervised_and_hardened(first_converge: PlaybookRun, lab: Lab) -> None:
    pi = host(lab, PI)
    props = dict(
        line.split("=", 1)
        for line in pi.check_output(
            f"systemctl show -p Type -p WatchdogUSec -p Restart -p NoNewPrivileges "
            f"-p ProtectSystem -p PrivateTmp {EXPORTER}"
        ).splitlines()
    )
    assert props == {
        "Type": "notify",
        "WatchdogUSec": "10s",
        "Restart": "on-failure",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
    }
    report = pi.check_output(f"systemd-analyze security {EXPORTER} --no-pager")
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", report)
    assert found, report
    assert float(found[1]) <= 4.0, found[0]
    assert found[2] == "OK", found[0]


def test_wheelhouse_installed_offline_into_opt(first_converge: PlaybookRun, lab: Lab) -> None:
    pi = host(lab, PI)
    assert pi.file(f"/opt/{EXPORTER}/venv/bin/picotemp-exporter").is_file
    assert pi.file(f"/opt/{EXPORTER}/wheelhouse/requirements.txt").contains("^picotemp==")
    frozen = pi.check_output(f"/opt/{EXPORTER}/venv/bin/pip freeze")
    assert "labkit==" in frozen
    assert "picotemp==" in frozen


def test_udev_rules_name_instruments_by_serial(first_converge: PlaybookRun, lab: Lab) -> None:
    rules = host(lab, LAB_PC).file("/etc/udev/rules.d/70-lab-serial-instruments.rules")
    assert rules.mode == 0o644
    text = rules.content_string
    assert 'ATTRS{serial}=="SBXESP300", SYMLINK+="lab/esp300", GROUP="dialout"' in text
    assert 'ATTRS{serial}=="SBXK2000", SYMLINK+="lab/keithley2000"' in text
    assert not host(lab, PI).file("/etc/udev/rules.d/70-lab-serial-instruments.rules").exists


def test_raspberry_pi_firmware_files(first_converge: PlaybookRun, lab: Lab) -> None:
    pi = host(lab, PI)
    config = pi.file("/boot/firmware/config.txt").content_string.splitlines()
    for line in ("dtparam=spi=on", "dtparam=i2c_arm=on", "enable_uart=1"):
        assert config.count(line) == 1, line
    cmdline = pi.file("/boot/firmware/cmdline.txt").content_string
    assert len(cmdline.strip().splitlines()) == 1
    words = cmdline.split()
    assert words.count("cgroup_memory=1") == 1
    assert words.count("cgroup_enable=memory") == 1
    assert words[0] == "console=serial0,115200"


@pytest.mark.parametrize("name", [PI, LAB_PC])
def test_k3s_prerequisites(first_converge: PlaybookRun, lab: Lab, name: str) -> None:
    h = host(lab, name)
    assert h.file("/etc/modules-load.d/k3s.conf").contains("^br_netfilter$")
    assert h.file("/etc/sysctl.d/90-k3s.conf").contains("^net.ipv4.ip_forward = 1$")
    registries = h.file("/etc/rancher/k3s/registries.yaml")
    assert registries.mode == 0o600
    assert registries.user == "root"
    assert "registry.sandbox.lab:5000" in registries.content_string
    assert "password:" in registries.content_string
    assert h.file("/etc/ssl/certs/lab-ca.pem").is_symlink


# -- supervision: break the exporter on purpose (last: they restart it) ------------------


def _main_pid(h: testinfra.host.Host) -> int:
    return int(h.check_output(f"systemctl show -p MainPID --value {EXPORTER}"))


def _wait_for_new_healthy_pid(h: testinfra.host.Host, old: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _main_pid(h)
        if pid not in (0, old) and h.service(EXPORTER).is_running:
            return pid
        time.sleep(1)
    pytest.fail(f"{EXPORTER} was not restarted within {timeout:.0f} s (pid still {old})")


def test_sigkill_is_restarted_by_systemd(first_converge: PlaybookRun, lab: Lab) -> None:
    pi = host(lab, PI)
    old = _main_pid(pi)
    pi.run(f"kill -KILL {old}")
    new = _wait_for_new_healthy_pid(pi, old, timeout=30)
    assert new != old
    log = pi.check_output(f"journalctl -u {EXPORTER} --no-pager -n 50")
    assert "status=9/KILL" in log


def test_sigstop_is_restarted_by_the_watchdog(first_converge: PlaybookRun, lab: Lab) -> None:
    pi = host(lab, PI)
    old = _main_pid(pi)
    pi.run(f"kill -STOP {old}")
    # WatchdogSec=10: systemd aborts the frozen process, then restarts it.
    new = _wait_for_new_healthy_pid(pi, old, timeout=60)
    assert new != old
    log = pi.check_output(f"journalctl -u {EXPORTER} --no-pager -n 50")
    assert "Watchdog timeout" in log
    # And it serves again.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if "pico_up 1" in fetch(f"http://{address(lab, PI)}:3030/metrics"):
                return
        except OSError:
            pass
        time.sleep(1)
    pytest.fail("the exporter did not serve pico_up 1 after the watchdog restart")
