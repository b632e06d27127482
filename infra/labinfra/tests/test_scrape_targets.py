"""What Prometheus scrapes, and whether the alert rules and dashboards select those targets.

The targets' labels are derived from the recorded objects as prometheus-operator writes
its configuration (labinfra.offline.targets, with the operator source it follows).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from labinfra.inventory import load_inventory
from labinfra.monitoring.scrape import (
    DEVICE_SERVICES,
    InventoryPortError,
    device_scrape_jobs,
    inventory_scrape_jobs,
    prometheus_scrape_configs,
)
from labinfra.offline.harness import StackRun
from labinfra.offline.lab import MONITORING_DIR
from labinfra.offline.targets import (
    Selector,
    Target,
    matches,
    scrape_targets,
    selectors,
)

FIXTURE = Path(__file__).parent / "fixtures" / "hosts.yml"


def _rule_selectors(path: Path) -> list[tuple[str, Selector]]:
    out = []
    for group in yaml.safe_load(path.read_text())["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            out += [(f"{path.name}: {name}", s) for s in selectors(rule["expr"])]
    return out


def _dashboard_selectors(path: Path) -> list[tuple[str, Selector]]:
    out = []
    for panel in json.loads(path.read_text()).get("panels", []):
        for target in panel.get("targets", []):
            out += [(f"{path.name}: {panel.get('title')}", s) for s in selectors(target["expr"])]
    return out


def _every_selector() -> list[tuple[str, Selector]]:
    found = []
    for path in sorted((MONITORING_DIR / "rules").glob("*.rules.yml")):
        found += _rule_selectors(path)
    for path in sorted((MONITORING_DIR / "dashboards").glob("*.json")):
        found += _dashboard_selectors(path)
    return found


def test_every_target_selector_in_rules_and_dashboards_matches_a_deployed_target(
    lab_runs: dict[str, StackRun],
) -> None:
    """A rule or panel that names a job no deployed target has can never show anything."""
    targets = scrape_targets(lab_runs.values())
    assert targets
    unmatched = [
        f"{where}: {s.text}"
        for where, s in _every_selector()
        if s.on_targets() and not any(matches(t, s.on_targets()) for t in targets)
    ]
    assert unmatched == []


def _picotemp_targets(lab_runs: dict[str, StackRun]) -> list[Target]:
    """The in-cluster exporters (the apps stack's DeviceApps) and the exporters on hosts."""
    apps = scrape_targets([lab_runs["apps"]])
    hosts = [
        t for t in scrape_targets([lab_runs["platform"]]) if t.source.endswith("picotemp-hosts")
    ]
    assert apps, "the example apps stack deploys an in-cluster picotemp exporter"
    assert hosts, "the fixture inventory has a picotemp exporter host"
    return apps + hosts


def test_picotemp_alerts_cover_the_in_cluster_exporter_too(lab_runs: dict[str, StackRun]) -> None:
    """Defect 9: a ServiceMonitor's job defaults to the Service's name (`picotemp-dome`), so
    `up{job="picotemp"}` missed the exporter the apps stack runs."""
    targets = _picotemp_targets(lab_runs)
    rules = _rule_selectors(MONITORING_DIR / "rules" / "picotemp.rules.yml")
    on_jobs = [(where, s) for where, s in rules if s.on_targets()]
    assert any("PicotempExporterDown" in where for where, _ in on_jobs)
    missed = [
        f"{where}: {s.text} misses {dict(t.labels)}"
        for where, s in on_jobs
        for t in targets
        if not matches(t, s.on_targets())
    ]
    assert missed == []


def test_device_services_on_hosts_are_scraped_from_the_inventory() -> None:
    """Defect 10: the dome controller and the instrument daemon run outside the cluster on
    the hosts Ansible deploys them to; each is a scrape job with every such host."""
    inventory = load_inventory(FIXTURE)
    jobs = {job.job: job for job in device_scrape_jobs(inventory)}
    assert set(jobs) == {"picotemp", "dome", "daq"}
    assert jobs["dome"].targets == [("192.168.50.21:8470", {"instance": "pi-dome"})]
    assert jobs["daq"].targets == [("192.168.50.31:8470", {"instance": "labpc1"})]
    assert jobs["picotemp"].targets == [("192.168.50.22:3030", {"instance": "pi-weather"})]


def test_ports_come_from_the_inventory_variables(tmp_path: Path) -> None:
    """group_vars and host_vars beside the inventory set the ports, as Ansible reads them."""
    (tmp_path / "hosts.yml").write_text(FIXTURE.read_text())
    (tmp_path / "group_vars" / "all").mkdir(parents=True)
    (tmp_path / "group_vars" / "all" / "main.yml").write_text("picotemp_exporter_port: 3031\n")
    (tmp_path / "group_vars" / "all" / "vault.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    (tmp_path / "group_vars" / "dome_controllers.yml").write_text("dome_port: 9000\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "pi-dome.yml").write_text("dome_port: 9001\n")
    (tmp_path / "group_vars" / "lab_pcs.yml").write_text(
        "daq_port: 8791\nsecret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n"
    )
    jobs = {j.job: j for j in device_scrape_jobs(load_inventory(tmp_path / "hosts.yml"))}
    assert jobs["picotemp"].targets[0][0] == "192.168.50.22:3031"
    assert jobs["dome"].targets[0][0] == "192.168.50.21:9001"  # host_vars win over group_vars
    assert jobs["daq"].targets[0][0] == "192.168.50.31:8791"


def test_a_port_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text(FIXTURE.read_text())
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "lab_pcs.yml").write_text("daq_port: '{{ base + 1 }}'\n")
    with pytest.raises(InventoryPortError, match=r"host 'labpc1': daq_port='\{\{ base"):
        device_scrape_jobs(load_inventory(tmp_path / "hosts.yml"))


def test_port_defaults_are_the_apps_own() -> None:
    """The fallback ports equal each app's default listen port (its settings)."""
    from daq.config import DaqSettings
    from dome.config import DomeSettings
    from picotemp.exporter.config import ExporterSettings

    defaults = {
        "picotemp": ExporterSettings.model_fields["listen"].default.port,
        "dome": DomeSettings.model_fields["listen"].default.port,
        "daq": DaqSettings.model_fields["listen"].default.port,
    }
    assert {s.job: s.default_port for s in DEVICE_SERVICES} == defaults


def test_the_plain_prometheus_form_carries_the_same_jobs() -> None:
    """`make lab` runs Prometheus outside Kubernetes from the same jobs."""
    jobs = inventory_scrape_jobs(load_inventory(FIXTURE))
    configs = prometheus_scrape_configs(jobs)
    assert [c["job_name"] for c in configs] == [j.job for j in jobs]
    dome = next(c for c in configs if c["job_name"] == "dome")
    assert dome["static_configs"] == [
        {"targets": ["192.168.50.21:8470"], "labels": {"instance": "pi-dome"}}
    ]


def test_scrape_configs_in_the_platform_carry_each_device_job(
    lab_runs: dict[str, StackRun],
) -> None:
    jobs = {
        r.inputs["spec"]["jobName"]
        for r in lab_runs["platform"].kubernetes_objects()
        if r.inputs["kind"] == "ScrapeConfig"
    }
    assert {"picotemp", "dome", "daq"} <= jobs


def test_a_misnamed_job_selector_is_caught() -> None:
    """The selector check can fail: a job no target has matches nothing."""
    targets = [Target("urn:x", {"job": "picotemp", "instance": None})]
    (good,) = selectors('up{job="picotemp"} == 0')
    (bad,) = selectors('up{job="picotemp-exporter"} == 0')
    (regex,) = selectors('up{job=~"pico.*"}')
    assert matches(targets[0], good.on_targets())
    assert not matches(targets[0], bad.on_targets())
    assert matches(targets[0], regex.on_targets())
    assert selectors("vector(1)") == []


def test_a_new_components_rules_and_dashboard_are_deployed_without_edits(
    lab_runs: dict[str, StackRun], tmp_path: Path
) -> None:
    """Every rule file and dashboard in the monitoring folders is deployed (the dome's and
    the daemon's files land there without touching the platform code)."""
    from labinfra.offline.harness import RunOptions, StackOutputs, run_project
    from labinfra.offline.lab import PROJECTS_DIR

    folder = tmp_path / "monitoring"
    (folder / "rules").mkdir(parents=True)
    (folder / "dashboards").mkdir()
    for path in (MONITORING_DIR / "rules").glob("*.rules.yml"):
        (folder / "rules" / path.name).write_text(path.read_text())
    for path in (MONITORING_DIR / "dashboards").glob("*.json"):
        (folder / "dashboards" / path.name).write_text(path.read_text())
    shutil.copytree(MONITORING_DIR / "graphite", folder / "graphite")
    (folder / "rules" / "newthing.rules.yml").write_text(
        textwrap.dedent(
            """
            groups:
              - name: newthing
                rules:
                  - alert: NewThingDown
                    expr: up{job="dome"} == 0
            """
        )
    )
    (folder / "dashboards" / "newthing.json").write_text(
        json.dumps({"uid": "newthing", "title": "New thing", "panels": []})
    )
    cluster = lab_runs["cluster"]
    run = run_project(
        PROJECTS_DIR / "platform",
        "lab",
        RunOptions(
            overrides={"inventory": str(FIXTURE), "monitoringFiles": str(folder)},
            stack_references={
                "organization/lab-cluster/lab": StackOutputs(
                    cluster.outputs, cluster.secret_outputs
                )
            },
        ),
    )
    names = {r.inputs["metadata"]["name"] for r in run.kubernetes_objects()}
    assert {"lab-newthing", "dashboard-newthing"} <= names
