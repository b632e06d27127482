"""The three projects' example stacks, run under Pulumi's mocks and checked end to end.

Mocks stand in for the Pulumi engine and providers, which cannot run here (no CLI, no
plugins, no cluster); everything the programs compute is real.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from labinfra.offline.harness import StackRun, fake_secret
from labinfra.offline.lab import MONITORING_DIR, run_lab
from labinfra.offline.validate import CrdCatalog, check_stack, secret_leaks, validate_objects
from labpolicies.pack import pack_violations

PROJECTS = ("cluster", "platform", "apps")


@pytest.mark.parametrize("project", PROJECTS)
def test_every_object_validates_against_its_schema(
    lab_runs: dict[str, StackRun], crds: CrdCatalog, project: str
) -> None:
    run = lab_runs[project]
    assert validate_objects(run, crds) == []


def test_custom_resources_were_validated(lab_runs: dict[str, StackRun], crds: CrdCatalog) -> None:
    kinds = {
        (r.inputs["apiVersion"], r.inputs["kind"])
        for run in lab_runs.values()
        for r in run.kubernetes_objects()
    }
    custom = kinds & crds.kinds()
    assert {k for _, k in custom} >= {"ServiceMonitor", "PrometheusRule", "ScrapeConfig"}


@pytest.mark.parametrize("project", PROJECTS)
def test_no_engine_level_problems(lab_runs: dict[str, StackRun], project: str) -> None:
    """No duplicate URN, no Output in a string, no unknowns, no default provider, SSA on."""
    run = lab_runs[project]
    assert run.resources
    assert check_stack(run) == []


@pytest.mark.parametrize("project", PROJECTS)
def test_whole_stack_passes_the_policy_pack(lab_runs: dict[str, StackRun], project: str) -> None:
    assert pack_violations(lab_runs[project].resources) == []


def _secret_values(run: StackRun) -> dict[str, str]:
    return {
        key.split(":", 1)[1]: fake_secret(key.split(":", 1)[1])
        for key in _stack_secret_keys(run.project)
    }


def _stack_secret_keys(project: str) -> list[str]:
    from labinfra.offline.lab import PROJECTS_DIR

    folder = {"lab-cluster": "cluster", "lab-platform": "platform", "lab-apps": "apps"}[project]
    data = yaml.safe_load((PROJECTS_DIR / folder / "Pulumi.lab.yaml").read_text())
    return [k for k, v in data["config"].items() if isinstance(v, dict) and "secure" in v]


@pytest.mark.parametrize("project", ["cluster", "platform"])
def test_config_secrets_reach_resources_only_as_secrets(
    lab_runs: dict[str, StackRun], project: str
) -> None:
    run = lab_runs[project]
    secrets = _secret_values(run)
    assert secrets, "every example stack has at least one secret"
    for key, value in secrets.items():
        used = [r.name for r in run.resources if value in repr(dict(r.inputs))]
        assert used, f"secret {key} is never used"
    assert secret_leaks(run, secrets) == []


def test_secret_outputs_stay_secret(lab_runs: dict[str, StackRun]) -> None:
    assert "kubeconfig" in lab_runs["cluster"].secret_outputs
    platform = lab_runs["platform"]
    assert {"registryPassword", "registryDockerConfig"} <= platform.secret_outputs
    assert "labCaCertPem" not in platform.secret_outputs
    # The kubeconfig reaches each later project's provider as a secret.
    for project in ("platform", "apps"):
        (provider,) = lab_runs[project].of_type("pulumi:providers:kubernetes")
        assert "kubeconfig" in provider.secret_paths
        assert provider.inputs["kubeconfig"] == lab_runs["cluster"].outputs["kubeconfig"]
    # The registry credentials reach the apps' pull secret as a secret.
    pull = lab_runs["apps"].named("devices-registry-pull")
    assert "stringData" in pull.secret_paths
    assert (
        pull.inputs["stringData"][".dockerconfigjson"] == platform.outputs["registryDockerConfig"]
    )


def test_generated_credentials_are_secret(lab_runs: dict[str, StackRun]) -> None:
    """The join token and the registry password reach the nodes on stdin only, and the
    registry's htpasswd entry is one that the registry's bcrypt check accepts for the
    password the nodes and CI use (checked with the bcrypt library, as distribution does)."""
    import bcrypt

    cluster = lab_runs["cluster"]
    password = cluster.outputs["registryPassword"]
    assert "registryPassword" in cluster.secret_outputs
    for install in cluster.of_type("command:remote:Command"):
        if install.name.endswith("-k3s"):
            token, sent_password = install.inputs["stdin"].split("\n")[:2]
            assert len(token) == 48
            assert token.isalnum()
            assert sent_password == password
            assert "stdin" in install.secret_paths
            assert token not in install.inputs["create"]
            assert password not in install.inputs["create"]
    platform = lab_runs["platform"]
    htpasswd = platform.named("registry-htpasswd")
    assert "stringData" in htpasswd.secret_paths
    user, hashed = htpasswd.inputs["stringData"]["htpasswd"].rstrip("\n").split(":", 1)
    assert user == platform.outputs["registryUsername"]
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    assert not bcrypt.checkpw(b"not-the-password", hashed.encode())


def test_prometheus_rules_are_the_tested_rule_files(lab_runs: dict[str, StackRun]) -> None:
    files = {
        p.name[: -len(".rules.yml")]: yaml.safe_load(p.read_text())["groups"]
        for p in (MONITORING_DIR / "rules").glob("*.rules.yml")
    }
    deployed = {
        r.inputs["metadata"]["name"].removeprefix("lab-"): r.inputs["spec"]["groups"]
        for r in lab_runs["platform"].kubernetes_objects()
        if r.inputs["kind"] == "PrometheusRule"
    }
    assert deployed.keys() == files.keys()
    for name, groups in files.items():
        assert deployed[name] == groups


def test_dashboards_are_loaded_by_the_sidecar(lab_runs: dict[str, StackRun]) -> None:
    maps = [
        r
        for r in lab_runs["platform"].kubernetes_objects()
        if r.inputs["kind"] == "ConfigMap"
        and r.inputs["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    names = {next(iter(m.inputs["data"])) for m in maps}
    expected = {f"{p.stem}.json" for p in (MONITORING_DIR / "dashboards").glob("*.json")}
    assert names == expected
    assert {"cluster.json", "pis.json", "picotemp.json"} <= names


def test_custom_resources_wait_for_the_chart_that_brings_their_crds(
    lab_runs: dict[str, StackRun],
) -> None:
    run = lab_runs["platform"]
    chart = run.named("monitoring-kube-prometheus-stack")
    custom = [
        r
        for r in run.kubernetes_objects()
        if r.inputs["kind"] in ("PrometheusRule", "ScrapeConfig")
    ]
    assert custom
    for resource in custom:
        assert run.depends_on(resource, chart), resource.name


def test_platform_ordering(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["platform"]
    assert run.depends_on(run.named("logging-alloy"), run.named("logging-loki"))
    chart = run.named("monitoring-kube-prometheus-stack")
    assert run.depends_on(chart, run.named("monitoring-grafana-admin"))
    assert run.depends_on(chart, run.named("logging-loki"))
    registry = run.named("registry-deployment")
    assert run.depends_on(registry, run.named("registry-htpasswd"))
    assert run.depends_on(registry, run.named("namespace-registry"))
    assert run.depends_on(run.named("runners-scale-set"), run.named("runners-controller"))


def test_k3s_nodes_install_in_order_servers_before_agents(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["cluster"]
    installs = [r for r in run.of_type("command:remote:Command") if r.name.endswith("-k3s")]
    names = [r.name for r in installs]
    assert names == ["k3s-node1-k3s", "k3s-node2-k3s", "k3s-node3-k3s", "k3s-pi-dome-k3s"]
    for earlier, later in itertools.pairwise(installs):
        assert run.depends_on(later, earlier)
        assert not run.depends_on(earlier, later)
    assert "cluster-init: true" in installs[0].inputs["create"]
    assert "server: https://192.168.50.11:6443" in installs[1].inputs["create"]
    assert "INSTALL_K3S_EXEC=agent" in installs[3].inputs["create"]
    assert "k3s-agent-uninstall.sh" in installs[3].inputs["delete"]
    # An upgrade runs `update` in place; without it the node would be replaced (uninstalled).
    assert all(i.inputs["update"] == i.inputs["create"] for i in installs)
    assert all(i.delete_before_replace for i in installs)
    assert "lab.internal/dome-controller=true" in installs[3].inputs["create"]
    kubeconfig = run.named("k3s-kubeconfig")
    assert run.depends_on(kubeconfig, installs[0])


def test_picotemp_exporter_runs_as_a_device_app(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["apps"]
    deployment = run.named("picotemp-dome-deployment")
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.lab.internal/lab/picotemp-exporter:0.1.0"
    assert container["ports"] == [{"name": "http", "containerPort": 3030}]
    assert {"name": "PICO_SERVER_URL", "value": "http://192.168.50.41"} in container["env"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    monitor = run.named("picotemp-dome-servicemonitor")
    assert monitor.inputs["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor.parent == run.named("picotemp-dome").urn
    assert run.depends_on(monitor, run.named("picotemp-dome-service"))
    assert run.depends_on(deployment, run.named("devices-namespace"))


def test_scrape_configs_follow_the_inventory(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["platform"]
    nodes = run.named("monitoring-scrape-node-exporters").inputs["spec"]["staticConfigs"]
    instances = [s["labels"]["instance"] for s in nodes]
    # Every host runs Ansible's node_exporter, the cluster nodes too (the chart's is off).
    assert instances == ["node1", "node2", "node3", "pi-dome", "pi-weather", "labpc1"]
    ha = run.named("monitoring-scrape-home-assistant").inputs["spec"]
    assert ha["authorization"]["credentials"] == {"name": "home-assistant-token", "key": "token"}
    assert ha["staticConfigs"][0]["labels"] == {"lab_integration": "home-assistant"}


REAL_INVENTORY = Path(__file__).resolve().parents[3] / "inventory" / "production" / "hosts.yml"


def test_example_stacks_run_on_the_real_inventory(crds: CrdCatalog) -> None:
    """The stack files as committed, on the Ansible inventory they name."""
    runs = run_lab("lab")
    for run in runs.values():
        assert validate_objects(run, crds) == []
        assert check_stack(run) == []
    assert runs["cluster"].of_type("command:remote:Command")


@pytest.mark.parametrize("project", PROJECTS)
def test_stack_files_disable_every_default_provider(project: str) -> None:
    from labinfra.offline.lab import PROJECTS_DIR

    data = yaml.safe_load((PROJECTS_DIR / project / "Pulumi.lab.yaml").read_text())
    assert data["config"]["pulumi:disable-default-providers"] == ["*"]


def test_optional_features_follow_config(lab_runs: dict[str, StackRun], crds: CrdCatalog) -> None:
    """NFS off by default and on when configured; runners and integrations can be off."""
    from labinfra.offline.harness import RunOptions, StackOutputs, run_project
    from labinfra.offline.lab import PROJECTS_DIR

    assert not [r for r in lab_runs["platform"].resources if r.name.startswith("nfs")]
    cluster = lab_runs["cluster"]
    run = run_project(
        PROJECTS_DIR / "platform",
        "lab",
        RunOptions(
            overrides={
                "inventory": str(Path(__file__).parent / "fixtures" / "hosts.yml"),
                "nfs": {"enabled": True, "server": "truenas.lab.internal", "path": "/mnt/tank/k8s"},
                "runners": {"enabled": False},
                "integrations": {},
                "githubToken": None,
                "homeAssistantToken": None,
                "proxmoxTokenValue": None,
            },
            stack_references={
                "organization/lab-cluster/lab": StackOutputs(
                    cluster.outputs, cluster.secret_outputs
                )
            },
        ),
    )
    nfs = run.named("nfs")
    assert nfs.inputs["values"]["nfs"] == {
        "server": "truenas.lab.internal",
        "path": "/mnt/tank/k8s",
    }
    assert run.depends_on(nfs, run.named("namespace-storage"))
    assert not [r for r in run.resources if r.name.startswith(("runners", "namespace-arc"))]
    assert not [r for r in run.resources if "pve-exporter" in r.name or "home-assistant" in r.name]
    assert validate_objects(run, crds) == []
    assert check_stack(run) == []
