"""The device apps as site.yml deploys them on the virtual hosts, checked over SSH.

The dome controller (two units) on the virtual Pi, the instrument daemon and its
simulated instruments on the virtual lab PC, the Pico W exporter: each a hardened unit
of the python_service role, configured from the sandbox inventory, answering on its host.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
import testinfra

from labhosts.playbooks import PlaybookRun

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(900)]

PI, LAB_PC = "sbx-pi1", "sbx-lab1"
Address = Callable[[str], str]
Connect = Callable[[str], testinfra.host.Host]
Fetch = Callable[..., str]

# Every unit site.yml deploys from apps/, with the user it runs as.
UNITS = [
    (PI, "dome-control", "dome"),
    (PI, "dome-api", "dome"),
    (PI, "picotemp-exporter", "picotemp-exporter"),
    (LAB_PC, "daq", "daq"),
    (LAB_PC, "picotemp-sim", "picotemp-sim"),
    (LAB_PC, "daq-sim-stage", "daq-sim"),
    (LAB_PC, "daq-sim-meter", "daq-sim"),
    (LAB_PC, "daq-sim-laser", "daq-sim"),
    (LAB_PC, "daq-sim-rotators", "daq-sim"),
]
MAX_EXPOSURE = 2.0
INSTRUMENTS = ("stage", "meter", "laser", "rotators")


def properties(h: testinfra.host.Host, unit: str, *names: str) -> dict[str, str]:
    flags = " ".join(f"-p {name}" for name in names)
    out = h.check_output(f"systemctl show {flags} {unit}")
    return dict(line.split("=", 1) for line in out.splitlines())


def main_pid(h: testinfra.host.Host, unit: str) -> int:
    return int(h.check_output(f"systemctl show -p MainPID --value {unit}"))


@pytest.mark.parametrize(("name", "unit", "user"), UNITS, ids=[u[1] for u in UNITS])
def test_unit_runs_hardened_as_its_own_user(
    first_converge: PlaybookRun, connect: Connect, name: str, unit: str, user: str
) -> None:
    h = connect(name)
    service = h.service(unit)
    assert service.is_running
    assert service.is_enabled
    assert h.check_output(f"ps -o user= -p {main_pid(h, unit)}") == user
    assert h.user(user).shell == "/usr/sbin/nologin"
    props = properties(h, unit, "NoNewPrivileges", "ProtectSystem", "RestartPreventExitStatus")
    assert props == {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "RestartPreventExitStatus": "2",
    }
    report = h.check_output(f"systemd-analyze security {unit} --no-pager")
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", report)
    assert found, report
    assert float(found[1]) <= MAX_EXPOSURE, found[0]


@pytest.mark.parametrize(
    ("name", "unit", "watchdog"),
    [(PI, "dome-control", "5s"), (PI, "dome-api", "10s"), (LAB_PC, "daq", "30s")],
)
def test_app_units_notify_and_feed_a_watchdog(
    first_converge: PlaybookRun, connect: Connect, name: str, unit: str, watchdog: str
) -> None:
    props = properties(connect(name), unit, "Type", "WatchdogUSec", "NotifyAccess")
    assert props == {"Type": "notify", "WatchdogUSec": watchdog, "NotifyAccess": "main"}


@pytest.mark.parametrize(
    ("name", "port", "path"),
    [(PI, 8470, "/healthz"), (LAB_PC, 8790, "/healthz"), (PI, 3030, "/healthz")],
    ids=["dome", "daq", "picotemp-exporter"],
)
def test_each_app_answers_healthz_from_this_machine(
    first_converge: PlaybookRun, address: Address, fetch: Fetch, name: str, port: int, path: str
) -> None:
    body = json.loads(fetch(f"http://{address(name)}:{port}{path}"))
    assert body["status"] == "ok", body


# -- dome ---------------------------------------------------------------------------------


def test_dome_settings_come_from_the_inventory(
    first_converge: PlaybookRun, connect: Connect
) -> None:
    pi = connect(PI)
    settings = pi.file("/etc/dome/dome.yaml")
    assert (settings.user, settings.group, settings.mode) == ("root", "dome", 0o640)
    text = settings.content_string
    assert "listen: 0.0.0.0:8470" in text
    assert "latitude_deg: 47.4" in text  # inventory/sandbox/group_vars/dome_controllers.yml
    assert "token" not in text.lower()
    control = pi.file("/etc/systemd/system/dome-control.service").content_string
    assert "ExecStart=/opt/dome/venv/bin/dome control --sim --config /etc/dome/dome.yaml" in control
    # No copy of the units anywhere but where the role writes them.
    assert pi.check_output("ls /etc/systemd/system/ | grep -c '^dome'") == "2"


def test_dome_token_is_an_encrypted_credential_and_commands_need_it(
    first_converge: PlaybookRun,
    connect: Connect,
    address: Address,
    fetch: Fetch,
    vault: dict[str, str],
) -> None:
    pi = connect(PI)
    token = vault["vault_dome_api_token"]
    cred = pi.file("/etc/dome/credentials/DOME_API_TOKEN.cred")
    assert (cred.user, cred.mode) == ("root", 0o600)
    assert pi.file("/etc/dome/credentials").mode == 0o700
    assert token.encode() not in cred.content, "the credential is stored in clear"
    # The service user cannot read it; only systemd hands it over.
    denied = pi.run("sudo -u dome cat /etc/dome/credentials/DOME_API_TOKEN.cred")
    assert denied.rc != 0
    api = pi.file("/etc/systemd/system/dome-api.service").content_string
    assert "LoadCredentialEncrypted=DOME_API_TOKEN:/etc/dome/credentials/DOME_API_TOKEN.cred" in api
    control = pi.file("/etc/systemd/system/dome-control.service").content_string
    assert "LoadCredential" not in control  # the control process needs no token
    for unit in ("dome-api", "dome-control"):
        environ = pi.check_output(f"tr '\\0' '\\n' < /proc/{main_pid(pi, unit)}/environ")
        assert token not in environ
        assert "DOME_API_TOKEN" not in environ

    url = f"http://{address(PI)}:8470/api/dome/goto"
    body = json.dumps({"azimuth": 12.5}).encode()
    with pytest.raises(Exception, match="401"):
        fetch(url, data=body)
    accepted = json.loads(fetch(url, token=token, data=body))
    assert accepted, accepted


def test_dome_read_token_is_an_encrypted_credential_that_reads_but_cannot_command(
    first_converge: PlaybookRun,
    connect: Connect,
    address: Address,
    fetch: Fetch,
    vault: dict[str, str],
) -> None:
    """The sandbox vault has vault_dome_api_read_token (sandbox-vault fills it): the API
    unit gets it as DOME_API_READ_TOKEN, encrypted like the command token, and the dome
    reads with it and refuses it a command."""
    pi = connect(PI)
    read_token = vault["vault_dome_api_read_token"]
    cred = pi.file("/etc/dome/credentials/DOME_API_READ_TOKEN.cred")
    assert (cred.user, cred.mode) == ("root", 0o600)
    assert read_token.encode() not in cred.content, "the credential is stored in clear"
    assert pi.run("sudo -u dome cat /etc/dome/credentials/DOME_API_READ_TOKEN.cred").rc != 0
    api = pi.file("/etc/systemd/system/dome-api.service").content_string
    assert (
        "LoadCredentialEncrypted=DOME_API_READ_TOKEN:/etc/dome/credentials/DOME_API_READ_TOKEN.cred"
        in api
    )
    environ = pi.check_output(f"tr '\\0' '\\n' < /proc/{main_pid(pi, 'dome-api')}/environ")
    assert read_token not in environ

    base = f"http://{address(PI)}:8470/api/dome"
    status = json.loads(fetch(f"{base}/status", token=read_token))
    assert "azimuth" in status, status
    body = json.dumps({"azimuth": 200.0}).encode()
    with pytest.raises(Exception, match="403"):
        fetch(f"{base}/goto", token=read_token, data=body)


def test_only_the_dome_control_process_may_run_real_time(
    first_converge: PlaybookRun, connect: Connect
) -> None:
    pi = connect(PI)
    control = properties(pi, "dome-control", "LimitRTPRIO", "RestrictRealtime", "PrivateNetwork")
    assert control == {"LimitRTPRIO": "20", "RestrictRealtime": "no", "PrivateNetwork": "yes"}
    for name, unit, _user in UNITS:
        if unit != "dome-control":
            assert properties(connect(name), unit, "RestrictRealtime") == {
                "RestrictRealtime": "yes"
            }, unit


def test_the_control_unit_lets_its_loop_take_sched_fifo(
    first_converge: PlaybookRun, connect: Connect
) -> None:
    """The unit's system call filter and RestrictRealtime=no must let the loop thread
    switch to SCHED_FIFO. On a Pi, PID 1 grants the right with LimitRTPRIO=20; this
    machine's root lacks CAP_SYS_RESOURCE (`prlimit --rtprio=0:99` fails), so no virtual
    host can raise that limit. A test-only drop-in grants CAP_SYS_NICE instead, which is
    the same right by another door, and is removed again afterwards."""
    pi = connect(PI)
    dropin = "/etc/systemd/system/dome-control.service.d/test-rt.conf"
    pi.check_output(f"mkdir -p {dropin.rsplit('/', 1)[0]}")
    pi.check_output(
        f"printf '[Service]\\nAmbientCapabilities=CAP_SYS_NICE\\n"
        f"CapabilityBoundingSet=CAP_SYS_NICE\\n' > {dropin}"
    )
    try:
        since = pi.check_output("date '+%Y-%m-%d %H:%M:%S'")
        pi.check_output("systemctl daemon-reload && systemctl restart dome-control")
        log = _wait_for_log(pi, "dome-control", since, "control loop runs SCHED_FIFO", 20)
        assert "priority=20" in log
        threads = pi.check_output(f"ps -L -o cls=,rtprio=,comm= -p {main_pid(pi, 'dome-control')}")
        assert re.search(r"^\s*FF\s+20\b", threads, re.MULTILINE), threads
    finally:
        pi.run(f"rm -f {dropin}")
        pi.check_output("systemctl daemon-reload && systemctl restart dome-control")
    assert pi.service("dome-control").is_running


def _wait_for_log(h: testinfra.host.Host, unit: str, since: str, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    log = ""
    while time.monotonic() < deadline:
        log = h.check_output(f"journalctl -u {unit} --since '{since}' --no-pager -o cat")
        if text in log:
            return log
        time.sleep(0.5)
    pytest.fail(f"{unit} did not log {text!r} within {timeout:.0f} s:\n{log[-2000:]}")


# -- instrument daemon --------------------------------------------------------------------


def test_instruments_are_simulators_on_ptys_at_their_udev_names(
    first_converge: PlaybookRun, connect: Connect, address: Address, fetch: Fetch
) -> None:
    pc = connect(LAB_PC)
    for name in INSTRUMENTS:
        link = pc.file(f"/dev/lab/{name}")
        assert link.is_symlink, name
        node = pc.file(link.linked_to)
        assert link.linked_to.startswith("/dev/pts/"), link.linked_to
        # What the udev rule gives a real adapter: group dialout, mode 0660.
        assert (node.group, node.mode) == ("dialout", 0o660), name
    config = pc.file("/etc/daq/daq.yaml").content_string
    assert "port: /dev/lab/stage" in config
    assert "listen: 0.0.0.0:8790" in config
    unit = pc.file("/etc/systemd/system/daq.service").content_string
    assert "ExecStart=/opt/daq/venv/bin/daq serve --config /etc/daq/daq.yaml" in unit
    assert "SupplementaryGroups=dialout" in unit
    health = json.loads(fetch(f"http://{address(LAB_PC)}:8790/healthz"))
    assert health["instruments"] == dict.fromkeys(INSTRUMENTS, True), health
    metrics = fetch(f"http://{address(LAB_PC)}:8790/metrics")
    for name in INSTRUMENTS:
        assert re.search(rf'^daq_instrument_up{{instrument="{name}",.*}} 1(\.0)?$', metrics, re.M)


def test_acquisitions_are_readable_by_the_daq_group_only(
    first_converge: PlaybookRun,
    connect: Connect,
    address: Address,
    fetch: Fetch,
    vault: dict[str, str],
) -> None:
    pc = connect(LAB_PC)
    base = f"http://{address(LAB_PC)}:8790/api/acquisitions"
    token = vault["vault_daq_api_token"]
    request = {"readings": ["meter.power"], "rate_hz": 10, "duration_s": 1, "format": "csv"}
    started = json.loads(fetch(base, token=token, data=json.dumps(request).encode()))
    deadline = time.monotonic() + 30
    info = started
    while info["state"] not in ("finished", "stopped", "failed") and time.monotonic() < deadline:
        time.sleep(0.5)
        info = json.loads(fetch(f"{base}/{started['id']}", token=token))
    assert info["state"] == "finished", info
    assert info["rows"] > 0, info
    data = pc.file(info["path"])
    assert data.path.startswith("/var/lib/daq/"), data.path
    # UMask=0027: the daemon's group (the data's readers) may read, nobody else.
    assert (data.user, data.group, data.mode) == ("daq", "daq", 0o640)
    assert pc.file("/var/lib/daq").mode == 0o750
    environ = pc.check_output(f"tr '\\0' '\\n' < /proc/{main_pid(pc, 'daq')}/environ")
    assert token not in environ
