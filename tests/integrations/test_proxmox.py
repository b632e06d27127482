"""Proxmox VE monitoring against fakepve, a Proxmox VE API simulator (no real Proxmox can
run here), behind the real prometheus-pve-exporter 3.10.2 and proxmoxer 2.3.0 (their own
venv), with the platform's generated configuration for everything else, all real:
Debian's nginx as the cache in front of the exporter, Debian's blackbox exporter probing
the API with the monitoring token, Debian's Prometheus with the generated rules. TLS is
verified against a throw-away lab CA everywhere. Intervals and rule windows are shortened
(seconds instead of minutes) so the test does not wait for real time to pass."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from envs import ensure_env
from servers import (
    Pki,
    blackbox,
    free_port,
    http_ok,
    prometheus,
    prometheus_query,
    running,
    wait_for,
)

from labinfra.monitoring.integrations import (
    PVE_FIXED_CALLS,
    Integrations,
    blackbox_config,
    integration_jobs,
    plan,
    prometheus_scrape_config,
    pve_cache_nginx_conf,
)
from labinfra.monitoring.slo import OBJECTIVES, Objectives, render

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

GUESTS = 2
USER, TOKEN_NAME = "prometheus@pve", "monitoring"


@dataclass
class FakePve:
    process: subprocess.Popen[str]
    port: int
    token: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self, **command: object) -> dict[str, object]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert isinstance(answer, dict)
        return answer

    def requests(self) -> int:
        total = self.command(requests=True)["total"]
        assert isinstance(total, int)
        return total

    def collections(self) -> int:
        """pve-exporter collections so far: each asks backup-info exactly once."""
        paths = self.command(requests=True)["paths"]
        assert isinstance(paths, dict)
        return int(paths.get("/api2/json/cluster/backup-info/not-backed-up", 0))


@pytest.fixture(scope="module")
def pve_env() -> Path:
    return ensure_env("pve")


@pytest.fixture(scope="module")
def fakepve(pve_env: Path, pki: Pki, logs: Path) -> Iterator[FakePve]:
    token = secrets.token_hex(16)
    argv = [
        str(pve_env / "bin" / "python"),
        str(Path(__file__).parent / "pve_driver.py"),
        f"--cert={pki.cert}",
        f"--key={pki.key}",
        f"--guests={GUESTS}",
        f"--token-id={USER}!{TOKEN_NAME}",
        f"--token-secret={token}",
    ]
    with (logs / "fakepve.log").open("w") as err:
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True
        )
    try:
        assert process.stdout is not None
        port = json.loads(process.stdout.readline())["port"]
        yield FakePve(process, port, token)
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def exporter(pve_env: Path, fakepve: FakePve, pki: Pki, logs: Path) -> Iterator[str]:
    """The real pve-exporter, configured as the platform deploys it (environment, token)."""
    port = free_port()
    env = {
        "PVE_USER": USER,
        "PVE_TOKEN_NAME": TOKEN_NAME,
        "PVE_TOKEN_VALUE": fakepve.token,
        "PVE_VERIFY_SSL": "true",
        # requests verifies against this bundle when verify is True: the lab CA.
        "REQUESTS_CA_BUNDLE": str(pki.ca),
    }
    argv = [
        str(pve_env / "bin" / "pve_exporter"),
        "--no-collector.replication",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(
        "pve-exporter", argv, logs, env=env, ready=lambda: http_ok(f"http://127.0.0.1:{port}/")
    ):
        yield f"127.0.0.1:{port}"


def _nginx(folder: Path, logs: Path, cache_seconds: int, upstream: str) -> tuple[str, object]:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(
        pve_cache_nginx_conf(
            cache_seconds=cache_seconds,
            listen=f"127.0.0.1:{port}",
            upstream=upstream,
            runtime_dir=str(folder),
            user="root",  # the tests run as root; the cluster's nginx runs unprivileged
        )
    )
    check = subprocess.run(
        ["nginx", "-t", "-c", str(conf), "-e", "stderr"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    argv = ["nginx", "-c", str(conf), "-e", "stderr", "-g", "daemon off;"]
    address = f"127.0.0.1:{port}"
    return address, running(
        "nginx-pve-cache", argv, logs, ready=lambda: http_ok(f"http://{address}/healthz")
    )


def _integrations(fakepve: FakePve, budget: float) -> Integrations:
    return Integrations.model_validate(
        {
            "proxmox": {
                "hosts": [fakepve.address],
                "user": USER,
                "tokenName": TOKEN_NAME,
                "maxRequestsPerMinute": budget,
                "maxGuests": GUESTS,
            }
        }
    )


def test_one_collection_costs_the_calls_the_rate_plan_assumes(
    fakepve: FakePve, exporter: str
) -> None:
    before = fakepve.requests()
    answer = httpx.get(f"http://{exporter}/pve", params={"target": fakepve.address}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert fakepve.requests() - before == PVE_FIXED_CALLS + GUESTS


def test_least_privilege_token_reads_but_cannot_change(
    fakepve: FakePve, exporter: str, pve_env: Path, pki: Pki
) -> None:
    """The exporter's token holds the audit privileges only: proxmoxer may read, not start a VM."""
    metrics = httpx.get(
        f"http://{exporter}/pve", params={"target": fakepve.address}, timeout=60
    ).text
    assert 'pve_up{id="node/pve1"} 1.0' in metrics
    assert 'pve_guest_info{id="qemu/101"' in metrics
    assert "pve_not_backed_up_total" in metrics
    script = (
        "import sys, proxmoxer\n"
        "api = proxmoxer.ProxmoxAPI(sys.argv[1], port=int(sys.argv[2]), user=sys.argv[3],\n"
        "    token_name=sys.argv[4], token_value=sys.argv[5], verify_ssl=sys.argv[6])\n"
        "print(len(api.nodes('pve1').qemu.get()))\n"
        "try:\n"
        "    api.nodes('pve1').qemu(101).status.stop.post()\n"
        "except proxmoxer.ResourceException as e:\n"
        "    print('refused', e.status_code)\n"
    )
    done = subprocess.run(
        [
            str(pve_env / "bin" / "python"),
            "-c",
            script,
            "127.0.0.1",
            str(fakepve.port),
            USER,
            TOKEN_NAME,
            fakepve.token,
            str(pki.ca),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(GUESTS), "refused", "403"]


def test_tls_is_verified_against_the_lab_ca(
    fakepve: FakePve, pve_env: Path, logs: Path, tmp_path: Path
) -> None:
    """The same exporter with the system's CAs instead of the lab's refuses fakepve's cert."""
    port = free_port()
    env = {
        "PVE_USER": USER,
        "PVE_TOKEN_NAME": TOKEN_NAME,
        "PVE_TOKEN_VALUE": fakepve.token,
        "PVE_VERIFY_SSL": "true",
    }
    argv = [
        str(pve_env / "bin" / "pve_exporter"),
        "--no-collector.replication",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    clean_env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    with running(
        "pve-exporter-no-ca",
        argv,
        logs,
        env={**clean_env, **env},
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/"),
    ):
        answer = httpx.get(
            f"http://127.0.0.1:{port}/pve", params={"target": fakepve.address}, timeout=60
        )
    assert answer.status_code == 500


def _rules(folder: Path) -> Path:
    """The generated rules, from the real objectives with windows of seconds."""
    data = yaml.safe_load(OBJECTIVES.read_text())
    data["latency"] = {"window": "20s", "for": "10s"}
    path = folder / "integrations-slo.rules.yml"
    path.write_text(render(Objectives.model_validate(data)))
    return path


def _alerts(base: str, name: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{base}/api/v1/alerts", timeout=10).json()
    alerts = answer["data"]["alerts"]
    assert isinstance(alerts, list)
    return [a for a in alerts if a["labels"]["alertname"] == name]


def test_latency_alert_fires_when_the_api_slows_and_backups_show(
    fakepve: FakePve, exporter: str, pki: Pki, logs: Path, tmp_path: Path
) -> None:
    integrations = _integrations(fakepve, budget=600)
    box = blackbox_config(integrations, ca_file=str(pki.ca), proxmox_token=fakepve.token)
    nginx_address, nginx = _nginx(tmp_path / "nginx", logs, 2, exporter)
    with nginx, blackbox(tmp_path / "blackbox", logs, box) as box_address:
        jobs = integration_jobs(
            integrations,
            replicas=1,
            blackbox_address=box_address,
            pve_address=nginx_address,
            graphite_address="unused:1",
            min_interval=2,
        )
        scrape = [prometheus_scrape_config(job, ca_file=str(pki.ca)) for job in jobs]
        for job in scrape:
            job["scrape_interval"] = job["scrape_timeout"] = "2s"
        config = {
            "global": {"evaluation_interval": "2s"},
            "rule_files": [str(_rules(tmp_path))],
            "scrape_configs": scrape,
        }
        with prometheus(tmp_path / "prometheus", logs, config) as base:
            # Metrics through the cache, labelled with the Proxmox target.
            wait_for(
                lambda: bool(prometheus_query(base, 'pve_up{job="proxmox",id="node/pve1"} == 1')),
                60,
                "pve metrics scraped",
            )
            (series,) = prometheus_query(base, 'pve_up{job="proxmox",id="node/pve1"}')
            assert series["metric"]["instance"] == fakepve.address  # type: ignore[index]
            assert series["metric"]["lab_integration"] == "proxmox"  # type: ignore[index]
            wait_for(
                lambda: bool(prometheus_query(base, 'probe_success{job="probe-proxmox"} == 1')),
                60,
                "API probed with the token",
            )
            # A backup job runs: the VM's backup lock shows in the metrics.
            fakepve.command(backup=101)
            wait_for(
                lambda: bool(
                    prometheus_query(base, 'pve_lock_state{id="qemu/101",state="backup"} == 1')
                ),
                60,
                "backup visible",
            )
            time.sleep(12)  # a fast API for longer than the alert's window and wait
            assert _alerts(base, "IntegrationApiSlow") == []
            fakepve.command(latency=0.7)
            wait_for(
                lambda: any(a["state"] == "firing" for a in _alerts(base, "IntegrationApiSlow")),
                120,
                "IntegrationApiSlow fired",
            )
            (alert,) = _alerts(base, "IntegrationApiSlow")
            labels = alert["labels"]
            assert isinstance(labels, dict)
            assert labels["slo"] == "proxmox-api-latency"
            assert labels["instance"].startswith(f"https://{fakepve.address}/")
            fakepve.command(latency=0)


def test_api_calls_stay_within_budget_whatever_the_replicas(
    fakepve: FakePve, exporter: str, pki: Pki, logs: Path, tmp_path: Path
) -> None:
    """Counting test: three Prometheus replicas probe the API and scrape pve-exporter
    through the cache for 40 s; fakepve counts every request it gets."""
    replicas, budget, seconds = 3, 240.0, 40
    integrations = _integrations(fakepve, budget)
    (pve_plan,) = plan(integrations, replicas, min_interval=1).values()
    assert pve_plan.cache_seconds is not None
    calls = PVE_FIXED_CALLS + GUESTS
    assert pve_plan.api_requests_per_minute(replicas, calls) <= budget
    box = blackbox_config(integrations, ca_file=str(pki.ca), proxmox_token=fakepve.token)
    nginx_address, nginx = _nginx(tmp_path / "nginx", logs, pve_plan.cache_seconds, exporter)
    with nginx, blackbox(tmp_path / "blackbox", logs, box) as box_address:
        jobs = integration_jobs(
            integrations,
            replicas=replicas,
            blackbox_address=box_address,
            pve_address=nginx_address,
            graphite_address="unused:1",
            min_interval=1,
        )
        config = {
            "scrape_configs": [prometheus_scrape_config(j, ca_file=str(pki.ca)) for j in jobs]
        }
        with (
            prometheus(tmp_path / "p1", logs, config, "prometheus-1") as p1,
            prometheus(tmp_path / "p2", logs, config, "prometheus-2") as p2,
            prometheus(tmp_path / "p3", logs, config, "prometheus-3") as p3,
        ):
            before, collections_before = fakepve.requests(), fakepve.collections()
            started = time.monotonic()
            time.sleep(seconds)
            used = fakepve.requests() - before
            collections = fakepve.collections() - collections_before
            elapsed = time.monotonic() - started
            scrapes = sum(
                float(r["value"][1])  # type: ignore[index]
                for base in (p1, p2, p3)
                for r in prometheus_query(base, f'count_over_time(up{{job="proxmox"}}[{seconds}s])')
            )
    allowed = budget * elapsed / 60
    print(
        f"{replicas} replicas, {elapsed:.1f} s: {used} API requests (budget {allowed:.0f}); "
        f"{scrapes:.0f} scrapes of pve-exporter's cache, {collections} collections"
    )
    assert used > 0
    assert used <= allowed, f"{used} API requests in {elapsed:.0f} s, budget {allowed:.0f}"
    # The cache answered the replicas: fewer collections than scrapes, at most two per period.
    assert collections < scrapes
    assert collections <= 2 * (elapsed / pve_plan.cache_seconds + 1)


def test_the_plan_honours_any_budget_and_replica_count() -> None:
    for replicas in range(1, 8):
        for budget in (6.0, 30.0, 60.0, 600.0):
            integrations = Integrations.model_validate(
                {
                    "homeAssistant": {"address": "ha:8123", "maxRequestsPerMinute": budget},
                    "proxmox": {"hosts": ["pve1:8006"], "maxRequestsPerMinute": budget},
                    "truenas": {"address": "nas:443", "maxRequestsPerMinute": budget},
                }
            )
            plans = plan(integrations, replicas)
            calls = PVE_FIXED_CALLS + 20
            assert plans["proxmox"].api_requests_per_minute(replicas, calls) <= budget
            assert plans["home-assistant"].api_requests_per_minute(replicas) <= budget
            assert plans["truenas"].api_requests_per_minute(replicas) <= budget
            assert all(p.probe_interval >= 30 for p in plans.values())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
