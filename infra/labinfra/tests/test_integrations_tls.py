"""Every integration API is reached over TLS verified with the lab CA (issue 15, zones).

The lab's zones put Home Assistant and Proxmox in `external` and TrueNAS in `storage`,
both of which require encryption (inventory/*/group_vars/all/zones.yml). Here: the stack's
configuration refuses anything that would skip verification, and the platform stack (run
under Pulumi's mocks, see test_stacks.py) hands the lab CA to everything that talks to an
integration: the ScrapeConfigs, Alertmanager's Home Assistant webhook and pve-exporter.
That each of these really verifies with that CA against a real server is proven in
tests/integrations (Home Assistant, fakepve behind pve-exporter, the blackbox exporter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from labinfra.monitoring.alertmanager import LAB_CA_FILE, AlertmanagerSettings, alertmanager_config
from labinfra.monitoring.integrations import LAB_CA_CONFIGMAP, LAB_CA_MOUNT, Integrations
from labinfra.offline.harness import StackRun

CHART_VALUES = (
    Path(__file__).resolve().parents[1]
    / "src/labinfra/upstream/charts/kube-prometheus-stack/88.5.3/values.yaml"
)


def test_unverified_tls_is_refused_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="pvenode cert set"):
        Integrations.model_validate(
            {"proxmox": {"hosts": ["pve1.lab.internal:8006"], "verifyTls": False}}
        )
    with pytest.raises(ValidationError, match="zone external requires encryption"):
        Integrations.model_validate(
            {"homeAssistant": {"address": "homeassistant.lab.internal:8123", "scheme": "http"}}
        )
    # The webhook id in the URL is a secret: never over plain http.
    with pytest.raises(ValidationError, match="url"):
        AlertmanagerSettings.model_validate(
            {"homeAssistant": {"url": "http://homeassistant.lab.internal:8123"}}
        )
    # What the lab's stack uses is accepted.
    assert Integrations.model_validate(
        {"proxmox": {"hosts": ["pve1.lab.internal:8006"]}}
    ).proxmox.verify_tls  # type: ignore[union-attr]


def test_the_lab_ca_reaches_the_monitoring_namespace(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["platform"]
    ca = run.named("monitoring-lab-ca").inputs
    assert ca["kind"] == "ConfigMap"
    assert ca["metadata"]["name"] == LAB_CA_CONFIGMAP.secret
    assert ca["metadata"]["namespace"] == "monitoring"
    # The cluster stack's CA, the one the nodes and the registry trust.
    assert ca["data"] == {LAB_CA_CONFIGMAP.key: lab_runs["cluster"].outputs["labCaCertPem"]}


def _https_scrape_configs(run: StackRun) -> list[dict[str, Any]]:
    specs = [
        r.inputs["spec"] for r in run.kubernetes_objects() if r.inputs.get("kind") == "ScrapeConfig"
    ]
    return [s for s in specs if s.get("scheme") == "HTTPS"]


def test_every_https_scrape_verifies_with_the_lab_ca(lab_runs: dict[str, StackRun]) -> None:
    https = _https_scrape_configs(lab_runs["platform"])
    assert https, "the example stack scrapes Home Assistant over https"
    for spec in https:
        tls = spec["tlsConfig"]
        assert tls["ca"] == {
            "configMap": {"name": LAB_CA_CONFIGMAP.secret, "key": LAB_CA_CONFIGMAP.key}
        }, spec["jobName"]
        assert not tls.get("insecureSkipVerify"), spec["jobName"]


def test_alertmanager_mounts_the_lab_ca_where_its_webhooks_read_it(
    lab_runs: dict[str, StackRun],
) -> None:
    run = lab_runs["platform"]
    chart = run.named("monitoring-kube-prometheus-stack")
    spec = chart.inputs["values"]["alertmanager"]["alertmanagerSpec"]
    assert spec["configMaps"] == [LAB_CA_CONFIGMAP.secret]
    assert run.depends_on(chart, run.named("monitoring-lab-ca"))
    # The operator mounts each of alertmanagerSpec.configMaps at
    # /etc/alertmanager/configmaps/<name> (prometheus-operator pkg/alertmanager/statefulset.go,
    # configmapsDir + name; the chart's values.yaml 88.5.3 documents the same directory).
    assert "The ConfigMaps are mounted into /etc/alertmanager/configmaps/." in (
        CHART_VALUES.read_text()
    )
    assert f"/etc/alertmanager/configmaps/{LAB_CA_CONFIGMAP.secret}/{LAB_CA_CONFIGMAP.key}" == (
        LAB_CA_FILE
    )
    config = alertmanager_config(
        AlertmanagerSettings.model_validate(
            {"homeAssistant": {"url": "https://homeassistant.lab.internal:8123"}}
        ),
        home_assistant_webhook_id="not-a-real-id",
    )
    (receiver,) = [r for r in config["receivers"] if r["name"] == "home-assistant"]
    assert receiver["webhook_configs"][0]["http_config"] == {"tls_config": {"ca_file": LAB_CA_FILE}}


def test_pve_exporter_verifies_proxmox_with_the_lab_ca(lab_runs: dict[str, StackRun]) -> None:
    run = lab_runs["platform"]
    deployment = run.named("monitoring-pve-exporter-deployment")
    pod = deployment.inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PVE_VERIFY_SSL"] == "true"
    bundle = env["REQUESTS_CA_BUNDLE"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert bundle == f"{LAB_CA_MOUNT}/{LAB_CA_CONFIGMAP.key}"
    mount = mounts[LAB_CA_MOUNT]
    assert mount["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mount["name"]]["configMap"] == {"name": LAB_CA_CONFIGMAP.secret}
    # The pod can only start once the ConfigMap exists.
    pve = run.named("monitoring-pve-exporter")
    assert run.depends_on(pve, run.named("monitoring-lab-ca"))


def test_the_example_stack_configures_integrations_only_over_https() -> None:
    from labinfra.offline.lab import PROJECTS_DIR

    config = yaml.safe_load((PROJECTS_DIR / "platform/Pulumi.lab.yaml").read_text())["config"]
    integrations = Integrations.model_validate(config["lab-platform:integrations"])
    assert integrations.home_assistant is not None
    assert integrations.home_assistant.scheme == "https"
    assert integrations.proxmox is not None
    assert integrations.proxmox.verify_tls is True
