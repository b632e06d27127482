"""Scrape configs for what runs outside the cluster, generated from the inventory.

Pure functions: they return ScrapeConfig specs (monitoring.coreos.com/v1alpha1) and the
platform component turns them into custom resources. Every integration target carries a
`lab_integration` label, which the integrations' alert rules select on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labinfra.inventory import Host, Inventory
from labinfra.monitoring.integrations import (
    HomeAssistant,
    Integrations,
    Proxmox,
    TrueNas,
    integration_jobs,
)
from labinfra.monitoring.integrations import scrape_config_spec as integration_spec

__all__ = ["HomeAssistant", "Integrations", "Proxmox", "TrueNas"]

NODE_EXPORTER_PORT = 9100
PVE_EXPORTER_PORT = 9221


@dataclass(frozen=True)
class DeviceService:
    """A device app that Ansible runs as a systemd service on the hosts of one group."""

    job: str
    """The `job` label its series get; the app's alert rules select on it."""
    group: str
    """The inventory group whose hosts run it (the play that deploys it targets this group)."""
    port_variable: str
    """The inventory variable holding its port (read by Ansible's play and by this module)."""
    default_port: int
    """The app's own default port, used where the inventory does not set the variable."""
    metrics_path: str = "/metrics"


DEVICE_SERVICES: tuple[DeviceService, ...] = (
    # The port defaults are the apps' own (each app's settings); a test keeps them equal.
    DeviceService("picotemp", "picotemp_exporters", "picotemp_exporter_port", 3030),
    DeviceService("dome", "dome_controllers", "dome_port", 8470),
    DeviceService("daq", "lab_pcs", "daq_port", 8470),
)
"""Every device service Ansible deploys on hosts outside the cluster, scraped from there."""


def device_service(job: str) -> DeviceService:
    """The device service whose series carry `job` (KeyError if there is none)."""
    for service in DEVICE_SERVICES:
        if service.job == job:
            return service
    raise KeyError(f"no device service with job {job!r}")


NODE_EXPORTER_JOB = "node-exporter"
"""The job kube-prometheus-stack's node rules and dashboards select (its node-exporter
rules, templates/prometheus/rules-1.14/node-exporter.yaml at kube-prometheus-stack-88.5.3)."""


class InventoryPortError(ValueError):
    """An inventory port variable is not a port number; the message names host and variable."""


def service_port(host: Host, service: DeviceService) -> int:
    """The port `service` listens on at `host`: its inventory variable, else the app's default."""
    value = host.variables.get(service.port_variable, service.default_port)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise InventoryPortError(
            f"inventory: host {host.name!r}: {service.port_variable}={value!r} is not a port "
            "number (Jinja templates are not evaluated here: give the number)"
        )
    return value


@dataclass(frozen=True)
class ScrapeJob:
    """One scrape job: what both the cluster's Prometheus and `make lab`'s Prometheus scrape."""

    name: str
    """A DNS name for the ScrapeConfig resource."""
    job: str
    targets: list[tuple[str, dict[str, str]]]
    """(host:port, extra target labels) per target."""
    metrics_path: str = "/metrics"


def device_scrape_jobs(inventory: Inventory) -> list[ScrapeJob]:
    """One job per device service that has hosts in the inventory, every host with its port."""
    jobs = []
    for service in DEVICE_SERVICES:
        hosts = inventory.group(service.group)
        if hosts:
            jobs.append(
                ScrapeJob(
                    name=f"{service.job}-hosts",
                    job=service.job,
                    targets=[
                        (_host_target(h, service_port(h, service)), {"instance": h.name})
                        for h in hosts
                    ],
                    metrics_path=service.metrics_path,
                )
            )
    return jobs


def node_exporter_job(inventory: Inventory) -> ScrapeJob | None:
    """Ansible's node_exporter on every host of the inventory, cluster nodes included.

    playbooks/common.yml applies the node_exporter role to `hosts: all` (listening on
    node_exporter_web_listen_address, 0.0.0.0:9100). It is the one exporter on each node:
    the chart's DaemonSet, which would bind the same host port on the cluster nodes, is off
    (labinfra.monitoring.values). `instance` is the inventory name, which is also the k3s
    node name (labinfra.k3s node-name), so node and Kubernetes series line up.
    """
    targets = [
        (_host_target(host, NODE_EXPORTER_PORT), {"instance": host.name})
        for host in inventory.hosts.values()
    ]
    if not targets:
        return None
    return ScrapeJob(name="node-exporters", job=NODE_EXPORTER_JOB, targets=targets)


def inventory_scrape_jobs(inventory: Inventory) -> list[ScrapeJob]:
    """Everything outside the cluster that the inventory says runs: node and device exporters."""
    node = node_exporter_job(inventory)
    return [*([node] if node else []), *device_scrape_jobs(inventory)]


def scrape_config_spec(job: ScrapeJob) -> dict[str, Any]:
    """A ScrapeConfig spec (monitoring.coreos.com/v1alpha1) for `job`.

    `jobName` is the job label the series get (the operator names the Prometheus job
    itself: the CRD's description of jobName, prometheus-operator v0.93.0).
    """
    return {
        "jobName": job.job,
        "metricsPath": job.metrics_path,
        "staticConfigs": [_static([target], labels) for target, labels in job.targets],
    }


def prometheus_scrape_configs(jobs: list[ScrapeJob]) -> list[dict[str, Any]]:
    """The same jobs as plain Prometheus `scrape_configs` entries (for a Prometheus outside
    Kubernetes, such as `make lab`'s)."""
    return [
        {
            "job_name": job.job,
            "metrics_path": job.metrics_path,
            "static_configs": [{"targets": [t], "labels": labels} for t, labels in job.targets],
        }
        for job in jobs
    ]


@dataclass(frozen=True)
class ScrapeSpec:
    name: str
    spec: dict[str, Any]


def _static(targets: list[str], labels: dict[str, str]) -> dict[str, Any]:
    return {"targets": targets, "labels": labels}


def _host_target(host: Host, port: int) -> str:
    return f"{host.address}:{port}"


def inventory_scrape_specs(inventory: Inventory) -> list[ScrapeSpec]:
    """ScrapeConfig specs of `inventory_scrape_jobs` for the cluster's Prometheus."""
    return [
        ScrapeSpec(job.name, scrape_config_spec(job)) for job in inventory_scrape_jobs(inventory)
    ]


def integration_scrape_specs(
    integrations: Integrations,
    *,
    replicas: int,
    pve_exporter_address: str,
    blackbox_address: str,
    graphite_address: str,
) -> list[ScrapeSpec]:
    """Home Assistant (bearer token), Proxmox (via pve-exporter), TrueNAS (graphite_exporter)
    and the blackbox probes of each: see labinfra.monitoring.integrations."""
    jobs = integration_jobs(
        integrations,
        replicas=replicas,
        blackbox_address=blackbox_address,
        pve_address=pve_exporter_address,
        graphite_address=graphite_address,
    )
    return [ScrapeSpec(job.name, integration_spec(job)) for job in jobs]
