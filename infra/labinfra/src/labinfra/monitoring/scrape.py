"""Scrape configs for what runs outside the cluster, generated from the inventory.

Pure functions: they return ScrapeConfig specs (monitoring.coreos.com/v1alpha1) and the
platform component turns them into custom resources. Every integration target carries a
`lab_integration` label, which the integrations' alert rules select on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from labinfra.inventory import Host, Inventory
from labinfra.stackconfig import ConfigModel

NODE_EXPORTER_PORT = 9100
PVE_EXPORTER_PORT = 9221

DEVICE_SERVICES: dict[str, tuple[str, int]] = {
    # inventory group -> (service, port) of the device services Ansible installs there
    "picotemp_exporters": ("picotemp", 3030),
}
"""Device services running on hosts outside the cluster (installed by Ansible)."""

HOST_GROUPS = ("pis", "lab_pcs", "dome_controllers", "picotemp_exporters")
"""Groups whose hosts run node_exporter outside Kubernetes."""


class HomeAssistant(ConfigModel):
    address: str = Field(pattern=r"^[\w.\-]+:\d+$")
    scheme: str = Field(default="http", pattern=r"^https?$")


class Proxmox(ConfigModel):
    hosts: list[str] = Field(min_length=1)
    """Proxmox VE nodes as `host:8006`."""
    user: str = "prometheus@pve"
    token_name: str = "monitoring"  # noqa: S105 (the token's name, not its value)
    verify_tls: bool = False


class TrueNas(ConfigModel):
    address: str = Field(pattern=r"^[\w.\-]+:\d+$")
    """Where TrueNAS's node exporter listens (`host:9100`)."""
    metrics_path: str = "/metrics"


class Integrations(ConfigModel):
    home_assistant: HomeAssistant | None = None
    proxmox: Proxmox | None = None
    truenas: TrueNas | None = None


@dataclass(frozen=True)
class ScrapeSpec:
    name: str
    spec: dict[str, Any]


def _static(targets: list[str], labels: dict[str, str]) -> dict[str, Any]:
    return {"targets": targets, "labels": labels}


def _host_target(host: Host, port: int) -> str:
    return f"{host.address}:{port}"


def inventory_scrape_specs(inventory: Inventory) -> list[ScrapeSpec]:
    """Node exporters and device services on hosts that are not cluster nodes.

    Cluster nodes are scraped by the chart's node-exporter DaemonSet; scraping a second
    node_exporter on them would duplicate every node series.
    """
    cluster = set(inventory.groups.get("k3s_cluster", ()))
    seen: set[str] = set()
    node_targets: list[dict[str, Any]] = []
    for group in HOST_GROUPS:
        for host in inventory.group(group):
            if host.name in cluster or host.name in seen:
                continue
            seen.add(host.name)
            node_targets.append(
                _static([_host_target(host, NODE_EXPORTER_PORT)], {"instance": host.name})
            )
    specs = []
    if node_targets:
        specs.append(
            ScrapeSpec(
                "node-exporters",
                {"jobName": "node-exporter-hosts", "staticConfigs": node_targets},
            )
        )
    for group, (service, port) in DEVICE_SERVICES.items():
        hosts = inventory.group(group)
        if hosts:
            specs.append(
                ScrapeSpec(
                    f"{service}-hosts",
                    {
                        "jobName": service,
                        "metricsPath": "/metrics",
                        "staticConfigs": [
                            _static([_host_target(h, port)], {"instance": h.name}) for h in hosts
                        ],
                    },
                )
            )
    return specs


def integration_scrape_specs(
    integrations: Integrations,
    *,
    home_assistant_secret: str,
    pve_exporter_address: str,
) -> list[ScrapeSpec]:
    """Home Assistant (bearer token), Proxmox (via pve-exporter), TrueNAS."""
    specs = []
    if integrations.home_assistant:
        ha = integrations.home_assistant
        specs.append(
            ScrapeSpec(
                "home-assistant",
                {
                    "jobName": "home-assistant",
                    "scheme": ha.scheme.upper(),
                    "metricsPath": "/api/prometheus",
                    "authorization": {
                        "type": "Bearer",
                        "credentials": {"name": home_assistant_secret, "key": "token"},
                    },
                    "staticConfigs": [_static([ha.address], {"lab_integration": "home-assistant"})],
                },
            )
        )
    if integrations.proxmox:
        specs.append(
            ScrapeSpec(
                "proxmox",
                {
                    "jobName": "proxmox",
                    "metricsPath": "/pve",
                    "params": {"module": ["default"], "cluster": ["1"], "node": ["1"]},
                    "staticConfigs": [
                        _static(list(integrations.proxmox.hosts), {"lab_integration": "proxmox"})
                    ],
                    # The exporter asks the Proxmox API named in ?target= on our behalf.
                    "relabelings": [
                        {"sourceLabels": ["__address__"], "targetLabel": "__param_target"},
                        {"sourceLabels": ["__param_target"], "targetLabel": "instance"},
                        {"targetLabel": "__address__", "replacement": pve_exporter_address},
                    ],
                },
            )
        )
    if integrations.truenas:
        nas = integrations.truenas
        specs.append(
            ScrapeSpec(
                "truenas",
                {
                    "jobName": "truenas",
                    "metricsPath": nas.metrics_path,
                    "staticConfigs": [_static([nas.address], {"lab_integration": "truenas"})],
                },
            )
        )
    return specs
