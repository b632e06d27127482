"""The exporters behind the integrations' scrape configs, as the platform stack deploys them.

The stack runs under Pulumi's mocks (no cluster here); the files it generates are checked by
the real programs that will read them: Debian's blackbox exporter (`--config.check`), nginx
(`-t`) and amtool. The scrape configs are checked to point at Services the same stack
creates, on ports the pods listen on.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from labinfra.monitoring.alertmanager import LAB_CA_FILE as ALERTMANAGER_CA_FILE
from labinfra.monitoring.exporters import LAB_CA_FILE, PVE_CACHE_RUNTIME
from labinfra.monitoring.integrations import Integrations, plan
from labinfra.offline.harness import Recorded, RunOptions, StackOutputs, StackRun, run_project
from labinfra.offline.lab import MONITORING_DIR, PROJECTS_DIR
from labinfra.offline.validate import CrdCatalog, check_stack, validate_objects
from labpolicies.pss import violations

from .conftest import FIXTURE_INVENTORY

SERVICE_ADDRESS = re.compile(r"^(?P<name>[a-z0-9-]+)\.(?P<ns>[a-z0-9-]+)\.svc:(?P<port>\d+)$")


def _objects(run: StackRun, kind: str) -> dict[str, Recorded]:
    return {
        f"{r.inputs['metadata'].get('namespace')}/{r.inputs['metadata']['name']}": r
        for r in run.kubernetes_objects()
        if r.inputs["kind"] == kind
    }


def _pod(deployment: Recorded) -> dict[str, Any]:
    spec: dict[str, Any] = deployment.inputs["spec"]["template"]["spec"]
    return spec


def _platform(lab_runs: dict[str, StackRun], **overrides: Any) -> StackRun:
    cluster = lab_runs["cluster"]
    return run_project(
        PROJECTS_DIR / "platform",
        "lab",
        RunOptions(
            overrides={"inventory": str(FIXTURE_INVENTORY), **overrides},
            stack_references={
                "organization/lab-cluster/lab": StackOutputs(
                    cluster.outputs, cluster.secret_outputs
                )
            },
        ),
    )


def test_every_scrape_address_is_a_service_of_the_stack_on_a_pod_port(
    lab_runs: dict[str, StackRun],
) -> None:
    """What was missing: scrape configs named blackbox-exporter, graphite-exporter and the
    pve-exporter cache, and nothing deployed them."""
    run = lab_runs["platform"]
    services = _objects(run, "Service")
    deployments = list(_objects(run, "Deployment").values())
    addresses = {
        rule["replacement"]
        for config in _objects(run, "ScrapeConfig").values()
        for rule in config.inputs["spec"].get("relabelings", [])
        if rule.get("targetLabel") == "__address__"
    } | {
        target
        for config in _objects(run, "ScrapeConfig").values()
        for static in config.inputs["spec"]["staticConfigs"]
        for target in static["targets"]
        if ".svc:" in target
    }
    assert len(addresses) == 3, addresses
    for address in sorted(addresses):
        match = SERVICE_ADDRESS.match(address)
        assert match, address
        service = services.get(f"{match['ns']}/{match['name']}")
        assert service, f"{address}: no such Service in the platform stack"
        (port,) = [p for p in service.inputs["spec"]["ports"] if p["port"] == int(match["port"])]
        selector = service.inputs["spec"]["selector"]
        (pod,) = [
            _pod(d)
            for d in deployments
            if d.inputs["metadata"]["namespace"] == match["ns"]
            and selector.items() <= d.inputs["spec"]["template"]["metadata"]["labels"].items()
        ]
        named = {
            p["name"]: p["containerPort"] for c in pod["containers"] for p in c.get("ports", [])
        }
        assert named[port["targetPort"]] == port["port"], address


def test_prometheus_replicas_set_the_chart_and_the_interval_plan(
    lab_runs: dict[str, StackRun],
) -> None:
    """The API budget is split over the real replica count, not a hard-coded 1."""
    for replicas in (2, 4):
        run = (
            lab_runs["platform"]
            if replicas == 2
            else _platform(
                lab_runs,
                monitoring={
                    "prometheusReplicas": replicas,
                    "retention": "30d",
                    "retentionSize": "40GB",
                    "storageSize": "50Gi",
                },
            )
        )
        chart = run.named("monitoring-kube-prometheus-stack")
        assert chart.inputs["values"]["prometheus"]["prometheusSpec"]["replicas"] == replicas
        config = yaml.safe_load((PROJECTS_DIR / "platform" / "Pulumi.lab.yaml").read_text())
        integrations = Integrations.model_validate(config["config"]["lab-platform:integrations"])
        plans = plan(integrations, replicas)
        intervals = {
            c.inputs["spec"]["jobName"]: c.inputs["spec"].get("scrapeInterval")
            for c in _objects(run, "ScrapeConfig").values()
        }
        for name, expected in plans.items():
            assert intervals[f"probe-{name}"] == f"{expected.probe_interval}s"
        assert intervals["home-assistant"] == f"{plans['home-assistant'].scrape_interval}s"
        # The cache period does not depend on the replicas: one collection serves them all.
        cache = run.named("monitoring-integrations-pve-cache-config").inputs["data"]["nginx.conf"]
        assert f"proxy_cache_valid 200 {plans['proxmox'].cache_seconds}s;" in cache
    assert plan(integrations, 4)["home-assistant"].probe_interval > (
        plan(integrations, 2)["home-assistant"].probe_interval
    )


def test_blackbox_config_is_a_secret_the_real_exporter_accepts(
    lab_runs: dict[str, StackRun], tmp_path: Path
) -> None:
    run = lab_runs["platform"]
    secret = run.named("monitoring-integrations-blackbox-config")
    assert "stringData" in secret.secret_paths
    config = yaml.safe_load(secret.inputs["stringData"]["blackbox.yml"])
    assert set(config["modules"]) == {"home_assistant", "proxmox", "truenas"}
    for module in config["modules"].values():
        assert module["http"]["tls_config"]["ca_file"] == LAB_CA_FILE
    auth = config["modules"]["proxmox"]["http"]["headers"]["Authorization"]
    assert auth == "PVEAPIToken=prometheus@pve!monitoring=test-secret-proxmoxTokenValue"
    assert config["modules"]["truenas"]["http"]["headers"]["Authorization"] == (
        "Bearer test-secret-truenasApiKey"
    )
    # The file the container is told to read is the Secret's, mounted where the args say;
    # the lab CA is mounted where the modules look for it.
    pod = _pod(run.named("monitoring-integrations-blackbox-exporter"))
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["secret"]["secretName"] == secret.inputs["metadata"]["name"]
    assert f"--config.file={mounts['config']}/blackbox.yml" in container["args"]
    assert volumes["lab-ca"]["configMap"]["name"] == "lab-ca"
    assert f"{mounts['lab-ca']}/ca.crt" == LAB_CA_FILE
    path = tmp_path / "blackbox.yml"
    path.write_text(secret.inputs["stringData"]["blackbox.yml"])
    result = subprocess.run(
        ["prometheus-blackbox-exporter", f"--config.file={path}", "--config.check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_graphite_exporter_reads_the_tested_mapping_and_only_truenas_may_send(
    lab_runs: dict[str, StackRun],
) -> None:
    run = lab_runs["platform"]
    mapping = run.named("monitoring-integrations-graphite-mapping")
    expected = (MONITORING_DIR / "graphite" / "truenas-mapping.yml").read_text()
    assert mapping.inputs["data"] == {"truenas-mapping.yml": expected}
    (container,) = _pod(run.named("monitoring-integrations-graphite-exporter"))["containers"]
    assert "--graphite.mapping-config=/etc/graphite/truenas-mapping.yml" in container["args"]
    assert "--graphite.mapping-strict-match" in container["args"]
    ingest = run.named("monitoring-integrations-graphite-ingest-service").inputs["spec"]
    assert ingest["type"] == "LoadBalancer"
    assert ingest["loadBalancerSourceRanges"] == ["192.168.70.3/32"]  # the example's TrueNAS
    assert [p["port"] for p in ingest["ports"]] == [9109]
    web = run.named("monitoring-integrations-graphite-service").inputs["spec"]
    assert web["type"] == "ClusterIP"


def test_pve_exporter_is_reached_only_through_its_cache(
    lab_runs: dict[str, StackRun], tmp_path: Path
) -> None:
    run = lab_runs["platform"]
    pod = _pod(run.named("monitoring-integrations-pve-exporter"))
    exporter, cache = pod["containers"]
    service = run.named("monitoring-integrations-pve-service").inputs["spec"]
    assert [p["targetPort"] for p in service["ports"]] == ["cache"]
    assert cache["ports"] == [{"name": "cache", "containerPort": 9222}]
    env = {e["name"]: e for e in exporter["env"]}
    assert env["PVE_TOKEN_VALUE"]["valueFrom"]["secretKeyRef"] == {
        "name": "pve-exporter-token",
        "key": "token",
    }
    assert env["REQUESTS_CA_BUNDLE"]["value"] == LAB_CA_FILE
    assert env["PVE_VERIFY_SSL"]["value"] == "true"
    token = run.named("monitoring-integrations-pve-token")
    assert "stringData" in token.secret_paths
    # The generated nginx.conf is valid for the real nginx (its runtime folder moved into
    # tmp_path; in the pod it is an emptyDir).
    conf = run.named("monitoring-integrations-pve-cache-config").inputs["data"]["nginx.conf"]
    assert "proxy_pass http://127.0.0.1:9221;" in conf
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    path = tmp_path / "nginx.conf"
    path.write_text(conf.replace(PVE_CACHE_RUNTIME, str(runtime)))
    result = subprocess.run(
        ["nginx", "-t", "-e", "stderr", "-c", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    mounts = {m["mountPath"] for m in cache["volumeMounts"]}
    assert PVE_CACHE_RUNTIME in mounts
    assert "-c" in cache["command"]
    assert cache["command"][cache["command"].index("-c") + 1] == "/etc/pve-cache/nginx.conf"


@pytest.mark.parametrize("app", ["blackbox-exporter", "graphite-exporter", "pve-exporter"])
def test_exporter_pods_meet_restricted_pod_security(
    lab_runs: dict[str, StackRun], app: str
) -> None:
    """The `restricted` Pod Security Standard (the policy pack's check of Kubernetes 1.33's
    controls), though the monitoring namespace itself only enforces baseline."""
    deployment = lab_runs["platform"].named(f"monitoring-integrations-{app}")
    template = deployment.inputs["spec"]["template"]
    assert violations(template["metadata"], template["spec"], "restricted") == []
    pod = _pod(deployment)
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] > 0
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not {"hostNetwork", "hostPID", "hostIPC"} & pod.keys()
    for volume in pod["volumes"]:
        assert {"configMap", "secret", "emptyDir"} & volume.keys(), volume
    for container in pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx["readOnlyRootFilesystem"] is True
        assert not any("hostPort" in p for p in container.get("ports", []))


def test_lab_ca_configmap_is_the_ca_and_alertmanager_mounts_it(
    lab_runs: dict[str, StackRun], tmp_path: Path
) -> None:
    run = lab_runs["platform"]
    lab_ca = run.named("monitoring-lab-ca")
    assert lab_ca.inputs["data"] == {"ca.crt": run.outputs["labCaCertPem"]}
    chart = run.named("monitoring-kube-prometheus-stack")
    assert run.depends_on(chart, lab_ca), "Alertmanager's pod cannot start without it"
    spec = chart.inputs["values"]["alertmanager"]["alertmanagerSpec"]
    assert spec["configMaps"] == ["lab-ca"]
    # prometheus-operator mounts alertmanagerSpec.configMaps at
    # /etc/alertmanager/configmaps/<name> (v0.93.0, pkg/alertmanager/statefulset.go,
    # configmapsDir), where the Home Assistant receiver reads the CA.
    assert ALERTMANAGER_CA_FILE == "/etc/alertmanager/configmaps/lab-ca/ca.crt"
    for app in ("blackbox-exporter", "pve-exporter"):
        assert run.depends_on(run.named(f"monitoring-integrations-{app}"), lab_ca)


def test_home_assistant_receiver_gets_the_secret_webhook_id(
    lab_runs: dict[str, StackRun], tmp_path: Path
) -> None:
    secret = lab_runs["platform"].named("monitoring-alertmanager-config")
    assert "stringData" in secret.secret_paths
    text = secret.inputs["stringData"]["alertmanager.yaml"]
    config = yaml.safe_load(text)
    (receiver,) = [r for r in config["receivers"] if r["name"] == "home-assistant"]
    (webhook,) = receiver["webhook_configs"]
    assert webhook["url"] == (
        "https://homeassistant.lab.internal:8123/api/webhook/test-secret-homeAssistantWebhookId"
    )
    assert webhook["http_config"]["tls_config"]["ca_file"] == ALERTMANAGER_CA_FILE
    # amtool loads the CA file, which exists only in the pod: point it at a copy here.
    ca = tmp_path / "ca.crt"
    ca.write_text(lab_runs["platform"].outputs["labCaCertPem"])
    path = tmp_path / "alertmanager.yml"
    path.write_text(text.replace(ALERTMANAGER_CA_FILE, str(ca)))
    result = subprocess.run(
        ["amtool", "check-config", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_integrations_no_exporter_runs(
    lab_runs: dict[str, StackRun], crds: CrdCatalog
) -> None:
    run = _platform(
        lab_runs,
        integrations={},
        alertmanager={},
        homeAssistantToken=None,
        homeAssistantWebhookId=None,
        proxmoxTokenValue=None,
        truenasApiKey=None,
    )
    assert not [r for r in run.resources if r.name.startswith("monitoring-integrations-")]
    # The CA ConfigMap stays: Alertmanager mounts it whatever the receivers.
    assert run.named("monitoring-lab-ca")
    assert validate_objects(run, crds) == []
    assert check_stack(run) == []


def test_truenas_needs_its_addresses(lab_runs: dict[str, StackRun]) -> None:
    from labinfra.offline.harness import ProgramFailedError

    config = yaml.safe_load((PROJECTS_DIR / "platform" / "Pulumi.lab.yaml").read_text())
    integrations = dict(config["config"]["lab-platform:integrations"])
    integrations["truenas"] = {"address": "truenas.lab.internal:443"}
    with pytest.raises(ProgramFailedError) as failed:
        _platform(lab_runs, integrations=integrations)
    assert "truenas.lab.internal is a DNS name" in str(failed.value.__cause__)
    # An IP address is its own CIDR.
    integrations["truenas"] = {"address": "192.168.70.4:443"}
    run = _platform(lab_runs, integrations=integrations)
    ingest = run.named("monitoring-integrations-graphite-ingest-service").inputs["spec"]
    assert ingest["loadBalancerSourceRanges"] == ["192.168.70.4/32"]


@pytest.mark.parametrize("key", ["homeAssistantWebhookId", "truenasApiKey"])
def test_a_missing_secret_is_named_before_anything_is_created(
    lab_runs: dict[str, StackRun], key: str
) -> None:
    from labinfra.offline.harness import ProgramFailedError

    with pytest.raises(ProgramFailedError) as failed:
        _platform(lab_runs, **{key: None})
    assert f"lab-platform:{key}: missing secret" in str(failed.value.__cause__)
    assert failed.value.run.resources == []
