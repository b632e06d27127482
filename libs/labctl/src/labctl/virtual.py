"""`make lab`: the whole lab, built by the real playbooks on virtual hosts.

Steps: boot the sandbox's virtual hosts (or keep them when they run), converge them with
playbooks/site.yml, start (or reload) Prometheus and Alertmanager on this machine, wait
until Prometheus scrapes every target, print a summary. Running it again on a running lab
converges it again (an idempotent Ansible run) and leaves what is right alone.
`make lab-down` removes everything: hosts, namespaces, links, mounts, processes, ports.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from labctl.converge import converge
from labctl.monitoring import Monitoring, Ports

__all__ = ["Options", "Outcome", "Ports", "down", "summary", "up"]
from labctl.progress import Progress, StepError
from labhosts import Lab
from labhosts.machines import ssh_command
from labhosts.playbooks import PlaybookRun, prepare_controller, vault_values
from labinfra.inventory import load_inventory

INVENTORY = "inventory/sandbox"
TARGETS_TIMEOUT = 90.0
# The units site.yml deploys, as `systemctl` patterns, for the summary.
UNIT_PATTERNS = ("dome*", "daq*", "picotemp*", "prometheus-node-exporter*")


@dataclass(frozen=True)
class Options:
    root: Path
    state: Path
    ports: Ports = field(default_factory=Ports)
    rule_for_max: str | None = None
    """Tests only: shorten the rules' `for:` to this (see monitoring.shortened_rules)."""


@dataclass
class Outcome:
    converge: PlaybookRun | None = None
    booted: bool = False
    seconds: float = 0.0


def up(options: Options, progress: Progress | None = None) -> Outcome:
    progress = progress or Progress()
    outcome = Outcome()
    state = options.state
    state.mkdir(parents=True, exist_ok=True)
    (state / "logs").mkdir(exist_ok=True)
    lab = Lab()

    # -- hosts
    if _hosts_running(lab):
        progress.say("hosts", f"{len(lab.hosts)} virtual hosts running: kept")
    else:
        progress.say("hosts", f"booting {', '.join(h.name for h in lab.hosts)}")

        def say(message: str, host: str) -> None:
            progress.say("hosts", message, host)

        try:
            lab.up(say=say)
        except Exception as error:
            log = lab.layout.cache / "debootstrap.log"
            raise StepError("hosts", str(error), log=log if log.exists() else None) from error
        outcome.booted = True
    prepare_controller(options.root, [h.name for h in lab.hosts] if outcome.booted else [])

    # -- converge
    progress.say("converge", "ansible-playbook playbooks/site.yml (sandbox inventory)")
    outcome.converge = converge(options.root, state / "logs" / "converge.log", progress)
    changed = {h: c["changed"] for h, c in outcome.converge.recap().items()}
    progress.say(
        "converge",
        f"done in {outcome.converge.seconds:.0f} s, changed: "
        + ", ".join(f"{h}={n}" for h, n in sorted(changed.items())),
    )

    # -- monitoring
    monitoring = Monitoring(options.root, state, options.ports, options.rule_for_max)
    monitoring.ensure(options.root / INVENTORY, progress)
    _save_ports(state, options.ports)

    # -- check
    down = wait_for_targets(options.ports.prometheus, progress)
    if down:
        raise StepError(
            "check",
            "Prometheus cannot scrape: "
            + "; ".join(f"{t['job']} {t['instance']}: {t['error']}" for t in down)
            + " (on the host: journalctl -u <unit>)",
            log=state / "logs" / "converge.log",
        )
    _write_tokens(options.root, state)
    outcome.seconds = progress.elapsed
    return outcome


def _hosts_running(lab: Lab) -> bool:
    return lab.known_hosts.exists() and all(s.running and s.ssh for s in lab.status())


def wait_for_targets(prometheus_port: int, progress: Progress) -> list[dict[str, str]]:
    """Wait until every target is up; return the ones that are not (empty when all are)."""
    deadline = time.monotonic() + TARGETS_TIMEOUT
    down: list[dict[str, str]] = []
    said = 0.0
    while True:
        targets = active_targets(prometheus_port)
        down = [t for t in targets if t["health"] != "up"]
        if targets and not down:
            progress.say("check", f"Prometheus scrapes all {len(targets)} targets")
            return []
        if time.monotonic() >= deadline:
            return down
        if time.monotonic() - said > 10:
            waiting = ", ".join(f"{t['job']}/{t['instance']}" for t in down) or "the first scrape"
            progress.say("check", f"waiting for {waiting}")
            said = time.monotonic()
        time.sleep(1)


def active_targets(prometheus_port: int) -> list[dict[str, str]]:
    try:
        answer = httpx.get(f"http://127.0.0.1:{prometheus_port}/api/v1/targets", timeout=5)
        answer.raise_for_status()
    except httpx.HTTPError:
        return []
    return [
        {
            "job": t["labels"].get("job", ""),
            "instance": t["labels"].get("instance", ""),
            "url": t["scrapeUrl"],
            "health": t["health"],
            "error": t.get("lastError", ""),
        }
        for t in answer.json()["data"]["activeTargets"]
    ]


def _save_ports(state: Path, ports: Ports) -> None:
    (state / "run" / "ports.json").write_text(json.dumps(vars(ports)))


def saved_ports(state: Path) -> Ports:
    try:
        return Ports(**json.loads((state / "run" / "ports.json").read_text()))
    except (OSError, ValueError, TypeError):
        return Ports()


def _write_tokens(root: Path, state: Path) -> None:
    """The sandbox's API tokens (random, made by scripts/sandbox-vault), readable by the
    owner only, so commands to the apps can be tried."""
    vault = vault_values(root)
    path = state / "api-tokens"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(
        f"DOME_API_TOKEN={vault.get('vault_dome_api_token', '')}\n"
        f"DAQ_API_TOKEN={vault.get('vault_daq_api_token', '')}\n"
    )


# -- summary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostSummary:
    name: str
    address: str
    groups: list[str]
    units: list[tuple[str, str]]
    """(unit, state) of the lab's units on the host."""


def host_summaries(root: Path) -> list[HostSummary]:
    lab = Lab()
    inventory = load_inventory(root / INVENTORY / "hosts.yml")
    out = []
    for spec in lab.hosts:
        host = inventory.hosts.get(spec.name)
        groups = sorted(host.groups - {"all", "ungrouped"}) if host else []
        out.append(HostSummary(spec.name, str(spec.address), groups, _units(lab, spec.name)))
    return out


def _units(lab: Lab, name: str) -> list[tuple[str, str]]:
    spec = next(h for h in lab.hosts if h.name == name)
    argv = ssh_command(
        lab.layout,
        spec,
        "systemctl",
        "list-units",
        "--all",
        "--plain",
        "--no-legend",
        "--type=service",
        *UNIT_PATTERNS,
    )
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return [("(ssh timed out)", "unknown")]
    units = []
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            units.append((fields[0].removesuffix(".service"), f"{fields[2]} ({fields[3]})"))
    return units or [("(no answer over ssh)", "unknown")]


def urls(root: Path, ports: Ports) -> list[tuple[str, str]]:
    inventory = load_inventory(root / INVENTORY / "hosts.yml")

    def first(group: str) -> tuple[str, dict[str, object]] | None:
        hosts = inventory.group(group)
        return (hosts[0].address, dict(hosts[0].variables)) if hosts else None

    # Debian's Prometheus (2.42) serves only the classic web UI, under /classic/.
    prometheus = f"http://127.0.0.1:{ports.prometheus}"
    out = [
        ("Prometheus", f"{prometheus}/"),
        ("Prometheus targets", f"{prometheus}/classic/targets"),
        ("Prometheus alerts", f"{prometheus}/classic/alerts"),
        ("Alertmanager", f"http://127.0.0.1:{ports.alertmanager}/"),
    ]
    if dome := first("dome_controllers"):
        base = f"http://{dome[0]}:{dome[1].get('dome_port', 8470)}"
        out += [("Dome page", f"{base}/"), ("Dome API", f"{base}/docs")]
    if daq := first("lab_pcs"):
        base = f"http://{daq[0]}:{daq[1].get('daq_port', 8790)}"
        out += [("Daemon live page", f"{base}/"), ("Daemon API", f"{base}/docs")]
    if pico := first("picotemp_exporters"):
        base = f"http://{pico[0]}:{pico[1].get('picotemp_exporter_port', 3030)}"
        out += [("Pico W exporter", f"{base}/metrics")]
    if sim := first("pico_simulators"):
        out += [("Pico W (simulated)", f"http://{sim[0]}:{sim[1].get('picotemp_sim_port', 8080)}/")]
    return out


def summary(root: Path, state: Path, ports: Ports, seconds: float | None = None) -> str:
    lines = [
        "",
        "The virtual lab is up"
        + (f" ({seconds:.0f} s)" if seconds is not None else "")
        + ": the sandbox inventory, built by playbooks/site.yml, simulated hardware.",
        "",
        "Hosts",
    ]
    hosts = host_summaries(root)
    for host in hosts:
        lines.append(f"  {host.name:<10} {host.address:<14} {', '.join(host.groups)}")
    lines += ["", "Services"]
    for host in hosts:
        for unit, unit_state in host.units:
            lines.append(f"  {host.name:<10} {unit:<26} {unit_state}")
    lines += ["", "URLs (from this machine)"]
    lines += [f"  {what:<20} {url:<44} {_answer(url)}" for what, url in urls(root, ports)]
    tokens = state / "api-tokens"
    ssh = Lab().ssh_key
    lines += [
        "",
        f"Commands to the apps need their token: {tokens}",
        f'  . {tokens}; curl -H "Authorization: Bearer $DOME_API_TOKEN" ...',
        f"Log in to a host: ssh -i {ssh} pi@ADDRESS   Logs: {state / 'logs'}",
        "`make lab` again converges it; `make lab-down` removes all of it.",
        "",
    ]
    return "\n".join(lines)


def _answer(url: str) -> str:
    """What the URL answers right now, so the summary lists only what is true."""
    try:
        status = httpx.get(url, timeout=5).status_code
    except httpx.HTTPError as error:
        return f"NOT ANSWERING ({type(error).__name__})"
    return "answers" if status < 400 else f"answers {status}"


# -- down ---------------------------------------------------------------------------------


def down(options: Options) -> list[str]:
    """Stop the daemons and remove the hosts; return what is left (empty when nothing)."""
    monitoring = Monitoring(options.root, options.state, saved_ports(options.state))
    monitoring.stop()
    lab = Lab()
    lab.down()
    left = lab.leftovers()
    left += [f"process {pid}" for pid in monitoring.all_pids()]
    tokens = options.state / "api-tokens"
    tokens.unlink(missing_ok=True)
    return left


def env_default_state(root: Path) -> Path:
    return Path(os.environ.get("LAB_STATE_DIR", root / ".lab"))
