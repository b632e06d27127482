"""Every pinned chart against its own values.yaml and templates, vendored at the pinned tag
(labinfra/upstream/charts, with their sources)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labinfra import charts
from labinfra.extras import (
    NfsSettings,
    RunnerSettings,
    controller_values,
    nfs_provisioner_values,
    scale_set_values,
)
from labinfra.monitoring.values import MonitoringSettings, kube_prometheus_values
from labinfra.offline.harness import StackRun
from labinfra.projects.platform import NAMESPACES
from labinfra.upstream import (
    CHARTS_DIR,
    chart_short_name,
    floating_images,
    merged_values,
    unknown_values_keys,
    value_paths,
    vendored_chart,
    vendored_charts,
)
from labinfra.upstream.workloads import (
    arc_controller_pod,
    arc_listener_pod,
    host_ports,
    node_exporter_pod,
)
from labpolicies.pss import violations

PINNED = [
    charts.KUBE_PROMETHEUS_STACK,
    charts.LOKI,
    charts.ALLOY,
    charts.ARC_CONTROLLER,
    charts.ARC_RUNNER_SET,
    charts.NFS_PROVISIONER,
    charts.CLOUDNATIVE_PG,
    charts.PROXMOX_CSI,
    charts.DEMOCRATIC_CSI,
]
REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("chart", PINNED, ids=lambda c: chart_short_name(c.name))
def test_every_pinned_chart_is_vendored_with_its_source(chart: charts.Chart) -> None:
    vendored = vendored_chart(chart.name, chart.version)
    assert vendored.version == chart.version
    assert vendored.values
    source = vendored.source
    assert {"repository", "path", "tag", "commit", "licence"} <= set(source)
    assert len(source["commit"]) == 40
    for ref in vendored.subcharts.values():
        name, version = ref.split("/", 1)
        assert vendored_chart(name, version).values


def test_every_recorded_release_sets_only_keys_its_chart_has(
    lab_runs: dict[str, StackRun],
) -> None:
    releases = [r for run in lab_runs.values() for r in run.helm_releases()]
    seen = {chart_short_name(r.inputs["chart"]) for r in releases}
    assert seen == {chart_short_name(c.name) for c in PINNED} - {"nfs-subdir-external-provisioner"}
    problems = [
        line
        for r in releases
        for line in unknown_values_keys(r.inputs["chart"], r.inputs["version"], r.inputs["values"])
    ]
    assert problems == []


def test_nfs_values_are_keys_of_the_chart() -> None:
    values = nfs_provisioner_values(
        NfsSettings(enabled=True, server="truenas.lab.internal", path="/mnt/tank/k8s")
    )
    chart = charts.NFS_PROVISIONER
    assert unknown_values_keys(chart.name, chart.version, values) == []


def test_a_misspelt_or_moved_key_is_named() -> None:
    loki = charts.LOKI
    assert unknown_values_keys(
        loki.name, loki.version, {"singleBinary": {"persistance": {"enabled": True}}}
    ) == [
        f"loki {loki.version}: values key 'singleBinary.persistance.enabled' is not in the "
        "chart's values.yaml (grafana/loki production/helm/loki/values.yaml at helm-loki-6.46.0)"
    ]
    kps = charts.KUBE_PROMETHEUS_STACK
    # A subchart's key is looked up in the subchart's own values.yaml.
    assert (
        unknown_values_keys(
            kps.name,
            kps.version,
            {"grafana": {"sidecar": {"dashboards": {"folderAnnotation": "x"}}}},
        )
        == []
    )
    assert unknown_values_keys(
        kps.name, kps.version, {"grafana": {"sidecar": {"dashbords": {"x": 1}}}}
    )
    # A scalar in the chart cannot take sub-keys.
    assert unknown_values_keys(kps.name, kps.version, {"crds": {"enabled": {"x": 1}}})


def test_an_unvendored_version_is_reported() -> None:
    (line,) = unknown_values_keys(charts.ARC_RUNNER_SET.name, "0.99.0", {"githubConfigUrl": "x"})
    assert "gha-runner-scale-set 0.99.0: no vendored values.yaml" in line


def test_value_paths_stop_at_lists_and_empty_maps() -> None:
    assert sorted(value_paths({"a": {"b": [1, {"c": 2}], "d": {}}, "e": 1})) == ["a.b", "a.d", "e"]


def test_no_release_runs_an_image_at_latest(lab_runs: dict[str, StackRun]) -> None:
    """The chart defaults merged with the lab's values, in every deployed subchart and
    component: the ARC runner image defaulted to ghcr.io/actions/actions-runner:latest."""
    floating = [
        line
        for run in lab_runs.values()
        for r in run.helm_releases()
        for line in floating_images(r.inputs["chart"], r.inputs["version"], r.inputs["values"])
    ]
    assert floating == []
    scale_set = next(
        r
        for r in lab_runs["platform"].helm_releases()
        if r.inputs["chart"].endswith("/gha-runner-scale-set")
    )
    (runner,) = scale_set.inputs["values"]["template"]["spec"]["containers"]
    assert runner["image"] == "ghcr.io/actions/actions-runner:2.328.0"


def test_the_floating_image_check_can_fail() -> None:
    arc = charts.ARC_RUNNER_SET
    assert floating_images(arc.name, arc.version, {}) == [
        "gha-runner-scale-set 0.13.0: template.spec.containers[0].image = "
        "ghcr.io/actions/actions-runner:latest"
    ]
    grafana_on = {"grafana": {"imageRenderer": {"enabled": True}}}
    kps = charts.KUBE_PROMETHEUS_STACK
    assert any(
        "imageRenderer.image" in line for line in floating_images(kps.name, kps.version, grafana_on)
    )


def test_arc_controller_and_listener_meet_restricted() -> None:
    """Defect 4: chart 0.13.0 leaves the controller's security contexts empty and the
    listener gets none unless a listenerTemplate gives it one; both run in arc-system,
    which enforces restricted."""
    assert NAMESPACES["arc-system"] == "restricted"
    controller = merged_values(
        charts.ARC_CONTROLLER.name, charts.ARC_CONTROLLER.version, controller_values()
    )
    settings = RunnerSettings(enabled=True, github_config_url="https://github.com/example-lab/lab")
    scale_set = merged_values(
        charts.ARC_RUNNER_SET.name,
        charts.ARC_RUNNER_SET.version,
        scale_set_values(settings, "arc-system"),
    )
    for pod in (arc_controller_pod(controller), arc_listener_pod(scale_set)):
        assert violations(*pod, "restricted") == []


def test_arc_defaults_would_be_refused() -> None:
    """The check can fail: the chart's defaults are not restricted."""
    defaults = vendored_chart(charts.ARC_CONTROLLER.name, charts.ARC_CONTROLLER.version).values
    checks = {v.check for v in violations(*arc_controller_pod(defaults), "restricted")}
    assert {"runAsNonRoot", "seccompProfile_restricted", "allowPrivilegeEscalation"} <= checks
    assert violations(*arc_listener_pod({}), "restricted")


def _ansible_node_exporter_port() -> tuple[int, list[str]]:
    """The port Ansible's node_exporter listens on, and the hosts the play applies it to."""
    defaults = yaml.safe_load(
        (REPO / "roles" / "node_exporter" / "defaults" / "main.yml").read_text()
    )
    port = int(defaults["node_exporter_web_listen_address"].rsplit(":", 1)[1])
    plays = yaml.safe_load((REPO / "playbooks" / "common.yml").read_text())
    hosts = [
        play["hosts"]
        for play in plays
        if any(
            (r.get("role") if isinstance(r, dict) else r) == "node_exporter"
            for r in play.get("roles", [])
        )
    ]
    return port, hosts


def test_one_node_exporter_per_node(lab_runs: dict[str, StackRun]) -> None:
    """Defect 3: Ansible's node_exporter (hosts: all) and the chart's hostNetwork DaemonSet
    both bound port 9100 on every k3s node; the DaemonSet crash-looped and the atomic Helm
    wait rolled the platform back. Exactly one binds it, and it is scraped exactly once."""
    port, plays = _ansible_node_exporter_port()
    assert "all" in plays  # every host, the k3s nodes too, runs Ansible's exporter
    release = lab_runs["platform"].named("monitoring-kube-prometheus-stack")
    kps = charts.KUBE_PROMETHEUS_STACK
    values = merged_values(kps.name, kps.version, release.inputs["values"])
    chart_binds: set[int] = set()
    if values["nodeExporter"]["enabled"]:
        node = vendored_chart("prometheus-node-exporter", "4.56.1").values
        sub = merged_values(
            "prometheus-node-exporter", "4.56.1", values.get("prometheus-node-exporter") or {}
        )
        assert node  # vendored
        chart_binds = host_ports(node_exporter_pod(sub))
    assert port not in chart_binds
    # Scraped once: one target per inventory host, as the job the chart's rules select.
    scrape = lab_runs["platform"].named("monitoring-scrape-node-exporters").inputs["spec"]
    assert scrape["jobName"] == "node-exporter"
    targets = [t for s in scrape["staticConfigs"] for t in s["targets"]]
    assert len(targets) == len(set(targets))
    assert {"192.168.50.11:9100", "192.168.50.21:9100", "192.168.50.31:9100"} <= set(targets)
    assert values["nodeExporter"]["forceDeployDashboards"] is True


def test_the_chart_node_exporter_would_collide() -> None:
    """The collision the test above rules out, from the chart's own defaults."""
    node = vendored_chart("prometheus-node-exporter", "4.56.1").values
    port, _ = _ansible_node_exporter_port()
    assert port in host_ports(node_exporter_pod(node))
    default = kube_prometheus_values(MonitoringSettings(), loki_url=None)
    assert default["nodeExporter"]["enabled"] is False


def test_vendored_folders_match_the_pins() -> None:
    """Nothing vendored is left behind by a bump (every folder is a pin or its subchart)."""
    wanted = {(chart_short_name(c.name), c.version) for c in PINNED}
    for chart in list(wanted):
        for ref in vendored_chart(*chart).subcharts.values():
            wanted.add(tuple(ref.split("/", 1)))  # type: ignore[arg-type]
    assert {(c.folder.parent.name, c.version) for c in vendored_charts()} == wanted
    assert CHARTS_DIR.is_dir()
