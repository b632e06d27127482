"""The firewall role on the virtual hosts: real nftables in each host's own network namespace.

Against the session's hosts after site.yml's first converge (which includes the firewall).
This machine is 10.213.0.1: the sandbox's management zone and its monitoring source. A
port the zone does not allow must time out (the policy drops it) while one it allows
answers, from this machine and from one host to another; a port that is allowed but has no
listener answers with a reset, which tells "allowed" from "dropped". The tests that
change the hosts (check mode on a host without the firewall, drift, rollback) restore them.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest
import testinfra
import yaml

from labhosts import Lab
from labhosts.playbooks import PlaybookRun, run_playbook

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(900)]

PI, LAB_PC = "sbx-pi1", "sbx-lab1"
PLAY = "playbooks/firewall.yml"
TABLE = "inet lab_filter"
# A table like the ones k3s, flannel and kube-proxy keep (through iptables-nft).
STAND_IN = "ip k3s_stand_in"

Probe = str  # "open", "refused" or "timeout"


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


def probe(ip: str, port: int, timeout: float = 3.0) -> Probe:
    """Open a TCP connection from this machine (the test hosts' own addresses only)."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"


PROBE_FROM_HOST = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()\n"
    "    print('open')\n"
    "except ConnectionRefusedError:\n"
    "    print('refused')\n"
    "except TimeoutError:\n"
    "    print('timeout')\n"
)


def probe_from(h: testinfra.host.Host, ip: str, port: int) -> Probe:
    """Open a TCP connection from inside a virtual host (as an unprivileged user)."""
    out: str = h.check_output("sudo -u nobody python3 -c %s %s %s", PROBE_FROM_HOST, ip, str(port))
    return out.strip()


def free_port(h: testinfra.host.Host) -> int:
    """A port nothing listens on, on that host (picked by its kernel)."""
    return int(
        h.check_output(
            'python3 -c \'import socket; s = socket.socket(); s.bind(("", 0)); '
            "print(s.getsockname()[1])'"
        )
    )


def table(h: testinfra.host.Host) -> str:
    out: str = h.check_output(f"nft list table {TABLE}")
    return out


def digest(h: testinfra.host.Host) -> str:
    found = re.search(r'comment "([0-9a-f]{64})"', table(h))
    assert found, table(h)
    return found[1]


def recap_changes(run: PlaybookRun) -> dict[str, int]:
    recap = run.recap()
    assert recap, run.output[-3000:]
    for name, counts in recap.items():
        assert counts["failed"] == 0, (name, run.output[-3000:])
        assert counts["unreachable"] == 0, (name, run.output[-3000:])
    return {name: counts["changed"] for name, counts in recap.items()}


def changed_tasks(output: str) -> list[str]:
    tasks, current = [], ""
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            current = line
        elif line.startswith("changed:"):
            tasks.append(current)
    return tasks


@pytest.fixture(scope="module")
def converged(first_converge: PlaybookRun) -> PlaybookRun:
    assert first_converge.returncode == 0, first_converge.output[-4000:]
    return first_converge


# -- what the kernel has ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [PI, LAB_PC])
def test_the_table_is_loaded_with_a_default_deny_policy(
    converged: PlaybookRun, lab: Lab, name: str
) -> None:
    h = host(lab, name)
    text = table(h)
    assert "type filter hook input priority filter; policy drop;" in text
    assert 'iif "lo" accept' in text
    assert re.search(r"ip saddr 10\.213\.0\.1 tcp dport 22 counter .* accept", text), text
    assert re.search(r'ip saddr @zone_management_v4 tcp dport 22 .*"ssh from management"', text)
    assert re.search(r'ip saddr @src_monitoring_v4 tcp dport 9100 .*"node_exporter', text)
    # k3s's inbound rules on both nodes (sbx-pi1 is the server, sbx-lab1 an agent)
    assert "udp dport 8472 counter packets" in text
    assert ("tcp dport 6443" in text) == (name == PI)
    assert h.service("lab-firewall").is_enabled
    assert h.check_output("systemctl is-enabled nftables.service || true") == "masked"
    ruleset = h.file("/etc/lab-firewall/lab_filter.nft")
    assert ruleset.mode == 0o600
    assert ruleset.user == "root"


def test_the_device_ports_are_open_to_their_sources_only(converged: PlaybookRun, lab: Lab) -> None:
    pi, pc = host(lab, PI), host(lab, LAB_PC)
    assert re.search(r'ip saddr @src_monitoring_v4 tcp dport 3030 .*"picotemp_exporter', table(pi))
    assert "dport 3030" not in table(pc)
    assert re.search(r'ip saddr @zone_lab_v4 tcp dport 8080 .*"picotemp_sim from lab"', table(pc))
    assert re.search(r"tcp dport 8790 .*\"daq from lab\"", table(pc))


# -- connections: refused where the zone says so, answered where it allows ----------------


def test_from_this_machine(converged: PlaybookRun, lab: Lab) -> None:
    pi, pc = address(lab, PI), address(lab, LAB_PC)
    assert probe(pi, 22) == "open"  # ssh from management
    assert probe(pi, 9100) == "open"  # node exporter from monitoring
    assert probe(pi, 3030) == "open"  # the Pico W exporter from monitoring
    assert probe(pc, 9100) == "open"
    # The simulated Pico W is open to the lab zone only, not to management.
    assert probe(pc, 8080) == "timeout"
    assert "picotemp-sim" in host(lab, LAB_PC).check_output("ss -Htlnp 'sport = :8080'")


def test_a_listener_on_a_port_no_zone_allows_is_unreachable(
    converged: PlaybookRun, lab: Lab
) -> None:
    """Something listens on all addresses, but the policy drops what no rule accepts."""
    pi = host(lab, PI)
    port = free_port(pi)
    server = pi.run(
        "systemd-run --unit=firewall-test-listener --collect "
        f"python3 -m http.server --bind 0.0.0.0 {port}"
    )
    assert server.rc == 0, server.stderr
    try:
        deadline = time.monotonic() + 20
        while probe_from(pi, "127.0.0.1", port) != "open":
            assert time.monotonic() < deadline, "the test's listener did not start"
            time.sleep(0.5)
        assert probe(address(lab, PI), port) == "timeout"
        assert probe_from(host(lab, LAB_PC), address(lab, PI), port) == "timeout"
        dropped = re.search(
            r'counter packets (\d+) bytes \d+ comment "dropped by the policy"', table(pi)
        )
        assert dropped, table(pi)
        assert int(dropped[1]) > 0
    finally:
        pi.run("systemctl stop firewall-test-listener")


def test_from_one_host_to_another(converged: PlaybookRun, lab: Lab) -> None:
    pi, pc = host(lab, PI), address(lab, LAB_PC)
    # The exporter reads the simulated Pico W on the other host: open to the lab zone.
    assert probe_from(pi, pc, 8080) == "open"
    # SSH is for the management zone, the node exporter for the monitoring sources.
    assert probe_from(pi, pc, 22) == "timeout"
    assert probe_from(pi, pc, 9100) == "timeout"
    # The kubelet's port is open between k3s nodes but nothing listens (no k3s here): the
    # kernel answers with a reset, which only an accepted packet gets.
    assert probe_from(pi, pc, 10250) == "refused"
    # From the other side: the exporter on the Pi is for the monitoring sources only.
    assert probe_from(host(lab, LAB_PC), address(lab, PI), 3030) == "timeout"


# -- idempotence, check mode, drift ----------------------------------------------------------


def test_a_second_run_changes_nothing(converged: PlaybookRun, lab: Lab, workspace: Path) -> None:
    second = run_playbook(workspace, PLAY)
    assert second.returncode == 0, second.output[-4000:]
    changes = recap_changes(second)
    assert set(changes) == {h.name for h in lab.hosts}
    assert all(n == 0 for n in changes.values()), (changes, changed_tasks(second.output))
    check = run_playbook(workspace, PLAY, "--check", "--diff")
    assert check.returncode == 0, check.output[-4000:]
    assert all(n == 0 for n in recap_changes(check).values()), changed_tasks(check.output)
    print(f"\nfirewall.yml, idempotent run: {second.seconds:.1f} s; --check: {check.seconds:.1f} s")


def test_other_tables_are_never_touched(converged: PlaybookRun, lab: Lab, workspace: Path) -> None:
    """A stand-in for k3s's tables survives a reload, a restart and a re-apply of ours."""
    pc = host(lab, LAB_PC)
    pc.run(f"nft delete table {STAND_IN}")
    pc.check_output(
        f"nft add table {STAND_IN} && nft add chain {STAND_IN} input "
        "'{ type filter hook input priority 0; policy accept; }' && "
        f"nft add rule {STAND_IN} input tcp dport 6443 counter accept"
    )
    try:
        before = pc.check_output(f"nft list table {STAND_IN}")
        pc.check_output("systemctl reload lab-firewall && systemctl restart lab-firewall")
        pc.check_output(f"nft delete table {TABLE}")  # drift: our table is gone
        run = run_playbook(workspace, PLAY, "--limit", LAB_PC)
        assert run.returncode == 0, run.output[-4000:]
        assert recap_changes(run)[LAB_PC] > 0
        assert any("Load the ruleset in one transaction" in t for t in changed_tasks(run.output))
        assert pc.check_output(f"nft list table {STAND_IN}") == before
        assert "policy drop;" in table(pc)
        again = run_playbook(workspace, PLAY, "--limit", LAB_PC)
        assert recap_changes(again)[LAB_PC] == 0, changed_tasks(again.output)
    finally:
        pc.run(f"nft delete table {STAND_IN}")


def test_a_rule_changed_by_hand_is_put_back(
    converged: PlaybookRun, lab: Lab, workspace: Path
) -> None:
    pc = host(lab, LAB_PC)
    good = table(pc)
    # Someone opens the node exporter to everybody.
    pc.check_output(f"nft insert rule {TABLE} input tcp dport 9100 accept")
    assert probe_from(host(lab, PI), address(lab, LAB_PC), 9100) == "open"
    run = run_playbook(workspace, PLAY, "--limit", LAB_PC)
    assert run.returncode == 0, run.output[-4000:]
    assert recap_changes(run)[LAB_PC] > 0
    assert probe_from(host(lab, PI), address(lab, LAB_PC), 9100) == "timeout"
    strip = re.compile(r"counter packets \d+ bytes \d+")
    assert strip.sub("", table(pc)) == strip.sub("", good)


def test_check_mode_on_a_host_without_the_firewall(
    converged: PlaybookRun, lab: Lab, workspace: Path
) -> None:
    """--check where nftables is not even installed: it succeeds, reports, applies nothing."""
    pc = host(lab, LAB_PC)
    pc.check_output(
        "systemctl disable --now lab-firewall && rm -rf /etc/lab-firewall /var/lib/lab-firewall "
        "/etc/systemd/system/lab-firewall.service && systemctl unmask nftables.service && "
        "systemctl daemon-reload && DEBIAN_FRONTEND=noninteractive apt-get purge -y -q nftables"
    )
    assert not pc.exists("nft")
    check = run_playbook(workspace, PLAY, "--check", "--limit", LAB_PC)
    assert check.returncode == 0, check.output[-4000:]
    assert recap_changes(check)[LAB_PC] > 0
    # Nothing was applied: no tool, no file, no table.
    assert not pc.exists("nft")
    assert not pc.file("/etc/lab-firewall").exists
    assert probe(address(lab, LAB_PC), 9100) == "open"
    # And the real run installs and loads it again.
    run = run_playbook(workspace, PLAY, "--limit", LAB_PC)
    assert run.returncode == 0, run.output[-4000:]
    assert "policy drop;" in table(pc)
    print(f"\nfirewall.yml on a host without it: {run.seconds:.1f} s")


def test_a_change_that_shuts_out_the_controller_is_rolled_back(
    converged: PlaybookRun, lab: Lab, workspace: Path, tmp_path: Path
) -> None:
    """Zones that leave this machine out of management, with the controller's own SSH rule
    switched off: the run fails its reachability check and the old table comes back."""
    pc = host(lab, LAB_PC)
    good = digest(pc)
    zones = yaml.safe_load((workspace / "inventory/sandbox/group_vars/all/zones.yml").read_text())
    zones["lab_zones"]["management"]["networks"] = ["192.0.2.0/24"]  # not this machine
    extra = tmp_path / "shut-out.json"
    extra.write_text(
        json.dumps(
            {
                "lab_zones": zones["lab_zones"],
                "firewall_keep_controller_ssh": False,
                "firewall_rollback_seconds": 30,
            }
        )
    )
    started = time.monotonic()
    run = run_playbook(
        workspace,
        PLAY,
        "--limit",
        LAB_PC,
        "-e",
        f"@{extra}",
    )
    assert run.returncode != 0
    assert "Check the controller can still open SSH connections" in run.output
    assert "this controller cannot open a new connection" in run.output, run.output[-3000:]
    # The rollback restores the table that was there before, and SSH with it.
    deadline = started + 120
    while probe(address(lab, LAB_PC), 22, timeout=1) != "open":
        assert time.monotonic() < deadline, "the rollback did not restore SSH"
        time.sleep(1)
    assert digest(pc) == good
    # The file on disk is the shut-out one: the next normal run puts everything right.
    fixed = run_playbook(workspace, PLAY, "--limit", LAB_PC)
    assert fixed.returncode == 0, fixed.output[-4000:]
    assert digest(pc) == good
    assert recap_changes(run_playbook(workspace, PLAY, "--limit", LAB_PC))[LAB_PC] == 0
