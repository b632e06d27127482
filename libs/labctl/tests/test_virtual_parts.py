"""The virtual lab's parts that need no hosts: the generated Prometheus and Alertmanager
configurations (checked by promtool and amtool), and how a failed converge is reported
(a real ansible-playbook run that fails on this machine)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from labctl.converge import converge
from labctl.monitoring import Monitoring, Ports, prometheus_config, rule_files, shortened_rules
from labctl.plan import repo_root
from labctl.progress import Progress, StepError
from labinfra.inventory import load_inventory
from labinfra.monitoring.scrape import NODE_EXPORTER_JOB

ROOT = repo_root()
SANDBOX = ROOT / "inventory" / "sandbox"


def test_every_sandbox_host_and_device_service_is_scraped() -> None:
    config = prometheus_config(load_inventory(SANDBOX / "hosts.yml"), Ports(9999, 9998), [])
    jobs = {
        job["job_name"]: sorted(t for s in job["static_configs"] for t in s["targets"])
        for job in config["scrape_configs"]
    }
    assert jobs[NODE_EXPORTER_JOB] == ["10.213.0.11:9100", "10.213.0.12:9100"]
    assert jobs["dome"] == ["10.213.0.11:8470"]
    assert jobs["daq"] == ["10.213.0.12:8790"]
    assert jobs["picotemp"] == ["10.213.0.11:3030"]
    assert jobs["prometheus"] == ["127.0.0.1:9999"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "127.0.0.1:9998"
    ]


@pytest.mark.integration
def test_promtool_and_amtool_accept_the_generated_configs(tmp_path: Path) -> None:
    monitoring = Monitoring(ROOT, tmp_path, Ports(19090, 19093))
    monitoring.write_configs(SANDBOX)
    monitoring.check_configs()  # raises StepError naming the tool and log
    rules = yaml.safe_load((tmp_path / "run" / "prometheus.yml").read_text())["rule_files"]
    assert rules == [str(p) for p in sorted((ROOT / "infra/monitoring/rules").glob("*.rules.yml"))]


def test_shortened_rules_only_clamp_long_for_durations(tmp_path: Path) -> None:
    source = tmp_path / "a.rules.yml"
    source.write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: Slow\n        expr: up == 0\n        for: 5m\n"
        "      - alert: Quick\n        expr: up == 0\n        for: 5s\n"
    )
    text = shortened_rules(source, tmp_path / "b.rules.yml", "10s").read_text()
    assert "for: 10s" in text
    assert "for: 5s" in text
    assert "5m" not in text
    copies = rule_files(ROOT, tmp_path, "10s")
    assert [p.name for p in copies] == [
        p.name for p in sorted((ROOT / "infra/monitoring/rules").glob("*.rules.yml"))
    ]
    assert all(p.parent == tmp_path / "rules" for p in copies)


@pytest.mark.integration
def test_a_failed_converge_names_the_step_the_host_the_task_and_the_log(tmp_path: Path) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "site.yml").write_text(
        "- name: A play that fails on one host\n  hosts: all\n  gather_facts: false\n"
        "  tasks:\n    - name: Check the answer\n      ansible.builtin.assert:\n"
        "        that: answer == 42\n        fail_msg: the answer is {{ answer }}\n"
    )
    (tmp_path / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "vars": {"ansible_connection": "local"},
                    "hosts": {"good": {"answer": 42}, "bad": {"answer": 41}},
                }
            }
        )
    )
    out = io.StringIO()
    log = tmp_path / "logs" / "converge.log"
    with pytest.raises(StepError) as failure:
        converge(tmp_path, log, Progress(out), inventory=str(tmp_path / "hosts.yml"))
    message = str(failure.value)
    assert message.startswith("step converge failed on bad: task 'Check the answer'")
    assert "the answer is 41" in message
    assert f"log: {log}" in message
    assert "PLAY RECAP" in log.read_text()
    assert "play: A play that fails on one host" in out.getvalue()
    assert "bad       FAILED: Check the answer: the answer is 41" in out.getvalue()


def test_the_lab_apt_packages_are_listed() -> None:
    listed = (ROOT / "deps/apt/lab.txt").read_text().split()
    assert {"prometheus", "prometheus-alertmanager"} <= set(listed)


def test_a_changed_rule_file_changes_what_prometheus_runs_with(tmp_path: Path) -> None:
    """`make lab` reloads Prometheus when its configuration or any of its rules changed."""
    monitoring = Monitoring(ROOT, tmp_path, Ports(19090, 19093), rule_for_max="10s")
    monitoring.write_configs(SANDBOX)
    prometheus, alertmanager = (
        next(d for d in monitoring.daemons() if d.name == name)
        for name in ("prometheus", "alertmanager")
    )
    before = monitoring.fingerprint(prometheus), monitoring.fingerprint(alertmanager)
    monitoring.write_configs(SANDBOX)
    assert (monitoring.fingerprint(prometheus), monitoring.fingerprint(alertmanager)) == before
    rule = next((tmp_path / "run" / "rules").glob("*.rules.yml"))
    rule.write_text(rule.read_text() + "\n# changed\n")
    assert monitoring.fingerprint(prometheus) != before[0]
    assert monitoring.fingerprint(alertmanager) == before[1]
