"""The pure builders: Helm values, scrape specs, k3s config and scripts, image pinning."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from labinfra.inventory import load_inventory, parse_inventory
from labinfra.k3s.scripts import NodePlan, install_script, node_config
from labinfra.kube import check_pinned_image
from labinfra.monitoring.files import MonitoringFileError, load_dashboards, load_rule_files
from labinfra.monitoring.scrape import Integrations, integration_scrape_specs
from labinfra.monitoring.values import (
    LoggingSettings,
    MonitoringSettings,
    alloy_config,
    kube_prometheus_values,
    loki_values,
)
from labinfra.offline.harness import StackRun, run_project
from labinfra.offline.validate import CrdCatalog, check_stack, validate_objects
from labinfra.projects.cluster import ClusterConfig, node_plans

FIXTURE = Path(__file__).parent / "fixtures" / "hosts.yml"
SUM = hashlib.sha256(b"a stand-in binary").hexdigest()


def test_kube_prometheus_values_fit_k3s() -> None:
    values = kube_prometheus_values(MonitoringSettings(retention="15d"), loki_url=None)
    for component in ("kubeEtcd", "kubeScheduler", "kubeControllerManager", "kubeProxy"):
        assert values[component] == {"enabled": False}
    assert values["defaultRules"]["rules"]["etcd"] is False
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "15d"
    assert spec["retentionSize"] == "40GB"
    assert spec["ruleSelectorNilUsesHelmValues"] is False
    assert spec["scrapeConfigSelectorNilUsesHelmValues"] is False
    assert "limits" in spec["resources"]
    assert values["grafana"]["admin"]["existingSecret"] == "grafana-admin"
    assert "additionalDataSources" not in values["grafana"]


def test_monitoring_settings_refuse_bad_retention() -> None:
    with pytest.raises(ValidationError):
        MonitoringSettings(retention="forever")


def test_loki_is_a_single_binary_with_retention() -> None:
    values = loki_values(LoggingSettings(retention="168h"))
    assert values["deploymentMode"] == "SingleBinary"
    assert values["loki"]["limits_config"]["retention_period"] == "168h"
    assert values["loki"]["compactor"]["retention_enabled"] is True
    assert values["read"]["replicas"] == values["write"]["replicas"] == 0


def test_alloy_keeps_only_its_own_nodes_pods_and_pushes_to_loki() -> None:
    config = alloy_config("http://loki.monitoring.svc:3100/loki/api/v1/push")
    assert 'regex         = sys.env("HOSTNAME")' in config
    assert 'url = "http://loki.monitoring.svc:3100/loki/api/v1/push"' in config
    assert config.count("{") == config.count("}")


def test_proxmox_goes_through_the_exporter() -> None:
    integrations = Integrations.model_validate({"proxmox": {"hosts": ["pve1:8006", "pve2:8006"]}})
    spec, probe = integration_scrape_specs(
        integrations,
        replicas=1,
        pve_exporter_address="pve-exporter.m.svc:9221",
        blackbox_address="blackbox.m.svc:9115",
        graphite_address="unused:9108",
    )
    assert spec.spec["staticConfigs"][0]["targets"] == ["pve1:8006", "pve2:8006"]
    relabel = spec.spec["relabelings"]
    assert relabel[0] == {"sourceLabels": ["__address__"], "targetLabel": "__param_target"}
    assert relabel[-1]["replacement"] == "pve-exporter.m.svc:9221"
    # Each node's API is also probed as a user would, through the blackbox exporter.
    assert probe.spec["jobName"] == "probe-proxmox"
    assert probe.spec["staticConfigs"][0]["targets"] == [
        "https://pve1:8006/api2/json/version",
        "https://pve2:8006/api2/json/version",
    ]
    assert probe.spec["relabelings"][-1]["replacement"] == "blackbox.m.svc:9115"


def test_no_integrations_no_scrape_configs() -> None:
    assert (
        integration_scrape_specs(
            Integrations(),
            replicas=1,
            pve_exporter_address="",
            blackbox_address="",
            graphite_address="",
        )
        == []
    )


@pytest.mark.parametrize(
    "image",
    [
        "registry.lab.internal/picotemp:0.1.0",
        "registry.lab.internal:5000/lab/picotemp@sha256:" + "0" * 64,
        "docker.io/library/registry:3.0.0",
    ],
)
def test_pinned_images_are_accepted(image: str) -> None:
    assert check_pinned_image(image) == image


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("registry.lab.internal/picotemp:latest", "pin it"),
        ("registry.lab.internal/picotemp", "pin it"),
        ("picotemp:0.1.0", "expected <registry>"),
        ("registry.lab.internal/Picotemp:1", "expected <registry>"),
    ],
)
def test_unpinned_or_unqualified_images_are_refused(image: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_pinned_image(image)


def _cluster_config(**changes: object) -> ClusterConfig:
    data: dict[str, object] = {
        "inventory": str(FIXTURE),
        "k3s": {
            "version": "v1.33.5+k3s1",
            "sha256": {"amd64": SUM, "arm64": SUM},
            "installScriptSha256": SUM,
        },
        "tlsSans": ["k3s.lab.internal"],
        "registry": {"host": "registry.lab.internal"},
    }
    data.update(changes)
    return ClusterConfig.model_validate(data)


def test_k3s_release_refuses_bad_versions_and_checksums() -> None:
    with pytest.raises(ValidationError) as err:
        _cluster_config(
            k3s={"version": "latest", "sha256": {"amd64": "abc"}, "installScriptSha256": "x"}
        )
    text = str(err.value)
    assert "k3s.version" in text
    assert "sha256.amd64 'abc'... is not the binary's sha256" in text
    assert "missing sha256.arm64" in text
    assert "k3s.installScriptSha256" in text


def test_node_plans_roles_sans_and_device_labels() -> None:
    plans = node_plans(_cluster_config(), load_inventory(FIXTURE))
    assert [(n.hostname, n.plan.role) for n in plans] == [
        ("node1", "server-init"),
        ("node2", "server-join"),
        ("node3", "agent"),
        ("pi-dome", "agent"),
    ]
    assert plans[0].plan.config["tls-san"] == ["192.168.50.11", "192.168.50.12", "k3s.lab.internal"]
    assert plans[0].plan.config["cluster-init"] is True
    assert "server" not in plans[0].plan.config
    assert plans[3].plan.config["node-label"] == [
        "lab.internal/dome-controller=true",
        "lab.internal/raspberry-pi=true",
    ]
    assert "tls-san" not in plans[3].plan.config
    # The install script writes the registry file each node points at.
    assert {n.plan.config["private-registry"] for n in plans} == {
        "/etc/rancher/k3s/lab-registries.yaml"
    }
    assert [n.plan.config["node-name"] for n in plans] == [n.hostname for n in plans]


def test_cluster_needs_a_server() -> None:
    inventory = parse_inventory({"k3s_agents": {"hosts": {"a": {"ansible_host": "10.0.0.1"}}}})
    with pytest.raises(ValueError, match="k3s_servers"):
        node_plans(_cluster_config(), inventory)


def test_install_script_verifies_before_installing() -> None:
    release = _cluster_config().k3s
    config = node_config(
        role="agent", first_server="10.0.0.1", tls_sans=[], node_labels=[], secrets_encryption=True
    )
    script = install_script(NodePlan("n", "agent", "10.0.0.1", config), release)
    verify = script.index("sha256sum -c")
    assert verify < script.index("install -m 0755")
    assert verify < script.index('sh "$work/install.sh"')
    # Nothing on the node changes before the downloads are verified (defect 7).
    assert script.rindex("sha256sum -c") < script.index('install_file "$work/token"')
    assert "v1.33.5%2Bk3s1/k3s" not in script  # the binary name comes from the architecture
    assert "releases/download/v1.33.5%2Bk3s1" in script
    assert "IFS= read -r token" in script


def test_rule_files_and_dashboards_refuse_bad_input(tmp_path: Path) -> None:
    with pytest.raises(MonitoringFileError, match=r"no \*\.rules\.yml"):
        load_rule_files(tmp_path)
    (tmp_path / "bad.rules.yml").write_text("groups: []\n")
    with pytest.raises(MonitoringFileError, match=r"bad\.rules\.yml"):
        load_rule_files(tmp_path)
    (tmp_path / "a.json").write_text('{"uid": "x", "title": "A"}')
    (tmp_path / "b.json").write_text('{"uid": "x", "title": "B"}')
    with pytest.raises(MonitoringFileError, match="uid 'x' is used twice"):
        load_dashboards(tmp_path)


def test_device_app_with_replicas_gets_a_disruption_budget(
    tmp_path: Path, crds: CrdCatalog
) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: scratch\nruntime: python\n")
    (tmp_path / "Pulumi.test.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(
        textwrap.dedent(
            """
            from labinfra.device_app import DeviceApp, DeviceAppArgs
            from labinfra.kube import kubernetes_provider
            import pulumi

            provider = kubernetes_provider("k8s", "kubeconfig")
            for replicas in (1, 2):
                DeviceApp(
                    f"app{replicas}",
                    DeviceAppArgs(
                        app=f"app{replicas}", namespace="devices", port=8080, version="1.0.0",
                        image="registry.lab.internal/app:1.0.0", replicas=replicas,
                    ),
                    opts=pulumi.ResourceOptions(provider=provider),
                )
            """
        )
    )
    run: StackRun = run_project(tmp_path, "test")
    budgets = [r for r in run.resources if r.type == "kubernetes:policy/v1:PodDisruptionBudget"]
    assert [b.name for b in budgets] == ["app2-pdb"]
    assert budgets[0].inputs["spec"]["minAvailable"] == 1
    assert validate_objects(run, crds) == []
    assert check_stack(run) == []
