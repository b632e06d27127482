"""No integration API is reached without TLS verified by the lab CA (issue 15, zones).

The lab's zones put Home Assistant and Proxmox in `external` and TrueNAS in `storage`, and
both require encryption (inventory/*/group_vars/all/zones.yml). Each of the three serves
TLS with a certificate of the operator's choosing, so verification is not optional: the
stack's configuration refuses what would switch it off, with the reason, and nothing the
platform stack renders (under Pulumi's mocks, test_stacks.py) skips it. Where the CA is
mounted and that the exporters really verify against real servers:
test_integration_exporters.py and tests/integrations.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from labinfra.monitoring.alertmanager import AlertmanagerSettings
from labinfra.monitoring.exporters import LAB_CA_FILE
from labinfra.monitoring.integrations import LAB_CA_CONFIGMAP, Integrations, blackbox_config
from labinfra.offline.harness import StackRun

PVE = {"hosts": ["pve1.lab.internal:8006"]}
HA = {"address": "homeassistant.lab.internal:8123"}


def test_switching_verification_off_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="pvenode cert set"):
        Integrations.model_validate({"proxmox": {**PVE, "verifyTls": False}})
    with pytest.raises(ValidationError, match="zone external requires encryption"):
        Integrations.model_validate({"homeAssistant": {**HA, "scheme": "http"}})
    # The webhook id in the URL is a secret: never over plain http.
    with pytest.raises(ValidationError, match="url"):
        AlertmanagerSettings.model_validate(
            {"homeAssistant": {"url": "http://homeassistant.lab.internal:8123"}}
        )
    ok = Integrations.model_validate({"proxmox": PVE, "homeAssistant": HA})
    assert ok.proxmox is not None
    assert ok.proxmox.verify_tls is True
    assert ok.home_assistant is not None
    assert ok.home_assistant.scheme == "https"


def test_every_probe_module_verifies_with_the_lab_ca() -> None:
    integrations = Integrations.model_validate(
        {"proxmox": PVE, "homeAssistant": HA, "truenas": {"address": "truenas.lab.internal:443"}}
    )
    config = blackbox_config(
        integrations,
        ca_file=LAB_CA_FILE,
        home_assistant_token="t",
        proxmox_token="t",
        truenas_api_key="k",
    )
    assert set(config["modules"]) == {"home_assistant", "proxmox", "truenas"}
    for name, module in config["modules"].items():
        http = module["http"]
        assert http["tls_config"] == {"ca_file": LAB_CA_FILE, "insecure_skip_verify": False}, name
        assert http["fail_if_not_ssl"] is True, name


def _scrape_specs(run: StackRun) -> list[dict[str, Any]]:
    return [
        r.inputs["spec"] for r in run.kubernetes_objects() if r.inputs.get("kind") == "ScrapeConfig"
    ]


def test_every_https_scrape_of_the_platform_verifies_with_the_lab_ca(
    lab_runs: dict[str, StackRun],
) -> None:
    specs = _scrape_specs(lab_runs["platform"])
    https = [s for s in specs if s.get("scheme") == "HTTPS"]
    assert https, "the example stack scrapes Home Assistant over https"
    for spec in https:
        tls = spec["tlsConfig"]
        assert tls["ca"] == {
            "configMap": {"name": LAB_CA_CONFIGMAP.secret, "key": LAB_CA_CONFIGMAP.key}
        }, spec["jobName"]
        assert not tls.get("insecureSkipVerify"), spec["jobName"]
    # Plain http only to the lab's own exporters inside the cluster or on the lab LAN, never
    # to an integration's API: those are reached through the exporters, which verify.
    for spec in specs:
        assert "insecureSkipVerify" not in str(spec), spec["jobName"]


def test_the_example_stack_configures_integrations_only_over_verified_tls() -> None:
    from labinfra.offline.lab import PROJECTS_DIR

    config = yaml.safe_load((PROJECTS_DIR / "platform/Pulumi.lab.yaml").read_text())["config"]
    integrations = Integrations.model_validate(config["lab-platform:integrations"])
    assert integrations.home_assistant is not None
    assert integrations.home_assistant.scheme == "https"
    assert integrations.proxmox is not None
    assert integrations.proxmox.verify_tls is True
