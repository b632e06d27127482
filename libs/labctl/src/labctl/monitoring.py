"""Prometheus and Alertmanager on this machine, watching the virtual lab.

The scrape jobs come from the sandbox inventory through the code the platform stack uses
(`labinfra.monitoring.scrape`), the rules are the repository's rule files, and
Alertmanager's configuration is the platform's default (`labinfra.monitoring.alertmanager`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from labctl.progress import Progress, StepError
from labhosts.system import alive, processes, terminate
from labinfra.inventory import Inventory, load_inventory
from labinfra.monitoring.alertmanager import AlertmanagerSettings, alertmanager_config
from labinfra.monitoring.scrape import inventory_scrape_jobs, prometheus_scrape_configs

SCRAPE_INTERVAL = "5s"
FOR_DURATION = re.compile(r"^(\s*for:\s*)(\S+)(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Ports:
    prometheus: int = 9090
    alertmanager: int = 9093


def scrape_configs(inventory: Inventory, ports: Ports) -> list[dict[str, Any]]:
    jobs = prometheus_scrape_configs(inventory_scrape_jobs(inventory))
    own = [
        {
            "job_name": "prometheus",
            "static_configs": [{"targets": [f"127.0.0.1:{ports.prometheus}"]}],
        },
        {
            "job_name": "alertmanager",
            "static_configs": [{"targets": [f"127.0.0.1:{ports.alertmanager}"]}],
        },
    ]
    return [*own, *jobs]


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total = 0.0
    for number, unit in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration):
        total += int(number) * units[unit]
    return total


def shortened_rules(source: Path, target: Path, for_max: str) -> Path:
    """A copy of a rule file whose `for:` durations are at most `for_max` (tests only: an
    alert that waits five minutes would keep a test waiting five minutes)."""
    limit = _seconds(for_max)

    def clamp(match: re.Match[str]) -> str:
        if _seconds(match[2]) > limit:
            return f"{match[1]}{for_max}{match[3]}"
        return match[0]

    target.write_text(FOR_DURATION.sub(clamp, source.read_text()))
    return target


def rule_files(root: Path, state: Path, for_max: str | None) -> list[Path]:
    rules = sorted((root / "infra" / "monitoring" / "rules").glob("*.rules.yml"))
    if for_max is None:
        return rules
    folder = state / "rules"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return [shortened_rules(path, folder / path.name, for_max) for path in rules]


def prometheus_config(inventory: Inventory, ports: Ports, rules: list[Path]) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(path) for path in rules],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [f"127.0.0.1:{ports.alertmanager}"]}]}
            ]
        },
        "scrape_configs": scrape_configs(inventory, ports),
    }


@dataclass(frozen=True)
class Daemon:
    name: str
    binary: str
    config: Path
    argv: list[str]
    ready_url: str


class Monitoring:
    """The two daemons, started in the background and found again by their config path."""

    def __init__(self, root: Path, state: Path, ports: Ports, rule_for_max: str | None = None):
        self.root, self.state, self.ports = root, state, ports
        self.rule_for_max = rule_for_max
        self.run_dir = state / "run"
        self.logs = state / "logs"

    def daemons(self) -> list[Daemon]:
        prometheus = _binary("prometheus")
        alertmanager = _binary("prometheus-alertmanager", "alertmanager")
        p, a = self.ports.prometheus, self.ports.alertmanager
        prom_config = self.run_dir / "prometheus.yml"
        am_config = self.run_dir / "alertmanager.yml"
        return [
            Daemon(
                "alertmanager",
                alertmanager,
                am_config,
                [
                    alertmanager,
                    f"--config.file={am_config}",
                    f"--storage.path={self.state / 'alertmanager-data'}",
                    f"--web.listen-address=127.0.0.1:{a}",
                    # One Alertmanager: no gossip port.
                    "--cluster.listen-address=",
                ],
                f"http://127.0.0.1:{a}/-/ready",
            ),
            Daemon(
                "prometheus",
                prometheus,
                prom_config,
                [
                    prometheus,
                    f"--config.file={prom_config}",
                    f"--storage.tsdb.path={self.state / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{p}",
                    "--storage.tsdb.retention.time=2d",
                ],
                f"http://127.0.0.1:{p}/-/ready",
            ),
        ]

    def write_configs(self, inventory_dir: Path) -> dict[str, str]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        inventory = load_inventory(inventory_dir / "hosts.yml")
        rules = rule_files(self.root, self.run_dir, self.rule_for_max)
        texts = {
            "prometheus": yaml.safe_dump(
                prometheus_config(inventory, self.ports, rules), sort_keys=False
            ),
            "alertmanager": yaml.safe_dump(
                alertmanager_config(AlertmanagerSettings()), sort_keys=False
            ),
        }
        for daemon in self.daemons():
            daemon.config.write_text(texts[daemon.name])
        return texts

    def check_configs(self) -> None:
        checks = {
            "prometheus": ["promtool", "check", "config", str(self.run_dir / "prometheus.yml")],
            "alertmanager": ["amtool", "check-config", str(self.run_dir / "alertmanager.yml")],
        }
        for name, argv in checks.items():
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                log = self.logs / f"{name}-config-check.log"
                log.parent.mkdir(parents=True, exist_ok=True)
                log.write_text(done.stdout + done.stderr)
                raise StepError("monitoring", f"{argv[0]} rejects the {name} config", log=log)

    def ensure(self, inventory_dir: Path, progress: Progress) -> None:
        """Start both daemons, or reload them when their configuration changed."""
        self.logs.mkdir(parents=True, exist_ok=True)
        before = {d.name: self.fingerprint(d) for d in self.daemons()}
        self.write_configs(inventory_dir)
        self.check_configs()
        for daemon in self.daemons():
            pids = self.pids(daemon)
            if pids and _running_argv(pids[0]) == daemon.argv:
                if self.fingerprint(daemon) != before[daemon.name]:
                    for pid in pids:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGHUP)
                    progress.say("monitoring", f"{daemon.name}: configuration reloaded")
                else:
                    progress.say("monitoring", f"{daemon.name}: running, unchanged")
            else:
                terminate(pids, grace=10)
                self._start(daemon)
                progress.say("monitoring", f"{daemon.name}: started ({daemon.ready_url[:-9]})")
            self._wait_ready(daemon)

    def _start(self, daemon: Daemon) -> None:
        with (self.logs / f"{daemon.name}.log").open("ab") as out:
            subprocess.Popen(
                daemon.argv,
                cwd=self.state,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self, daemon: Daemon, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(daemon.ready_url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if not self.pids(daemon):
                break
            time.sleep(0.3)
        raise StepError(
            "monitoring",
            f"{daemon.name} did not become ready at {daemon.ready_url}",
            log=self.logs / f"{daemon.name}.log",
        )

    def fingerprint(self, daemon: Daemon) -> str:
        """The configuration a daemon runs with: its file and, for Prometheus, the rules."""
        digest = hashlib.sha256(_read(daemon.config))
        if daemon.name == "prometheus":
            try:
                config = yaml.safe_load(_read(daemon.config)) or {}
            except yaml.YAMLError:
                config = {}
            for rule_file in config.get("rule_files", []):
                digest.update(_read(Path(rule_file)))
        return digest.hexdigest()

    def pids(self, daemon: Daemon) -> list[int]:
        """Our daemon's processes, found by the config file in their command line."""
        flag = f"--config.file={daemon.config}"
        return [pid for pid, argv in processes() if flag in argv and alive(pid)]

    def all_pids(self) -> list[int]:
        return [pid for daemon in self.daemons() for pid in self.pids(daemon)]

    def stop(self) -> None:
        terminate(self.all_pids(), grace=15)
        for folder in ("prometheus-data", "alertmanager-data", "run"):
            shutil.rmtree(self.state / folder, ignore_errors=True)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _running_argv(pid: int) -> list[str]:
    for candidate, argv in processes():
        if candidate == pid:
            return argv
    return []


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")
        if found:
            return found
    raise StepError(
        "monitoring", f"{names[0]} is not installed (`make bootstrap` installs deps/apt/lab.txt)"
    )
