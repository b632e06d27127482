"""MonitoringStack: kube-prometheus-stack and everything the lab adds to it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import yaml

from labinfra.charts import KUBE_PROMETHEUS_STACK, PVE_EXPORTER_IMAGE
from labinfra.device_app import DeviceApp, DeviceAppArgs, SecretEnv
from labinfra.helm import helm_release
from labinfra.inventory import Inventory
from labinfra.kube import child_options, secret
from labinfra.monitoring.alertmanager import AlertmanagerSettings, alertmanager_config
from labinfra.monitoring.files import Dashboard, RuleFile
from labinfra.monitoring.integrations import (
    BLACKBOX_PORT,
    GRAPHITE_EXPORTER_WEB_PORT,
    LAB_CA_CONFIGMAP,
    LAB_CA_MOUNT,
)
from labinfra.monitoring.scrape import (
    PVE_EXPORTER_PORT,
    Integrations,
    ScrapeSpec,
    integration_scrape_specs,
    inventory_scrape_specs,
)
from labinfra.monitoring.values import (
    ALERTMANAGER_CONFIG_SECRET,
    DASHBOARD_LABEL,
    GRAFANA_ADMIN_SECRET,
    MonitoringSettings,
    kube_prometheus_values,
)
from labinfra.names import recommended_labels

HOME_ASSISTANT_SECRET = "home-assistant-token"  # noqa: S105 (a Secret's name)
PVE_EXPORTER_SECRET = "pve-exporter-token"  # noqa: S105 (a Secret's name)


@dataclass(frozen=True)
class MonitoringSecrets:
    grafana_admin_password: pulumi.Input[str]
    home_assistant_token: pulumi.Input[str] | None = None
    proxmox_token_value: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class MonitoringStackArgs:
    namespace: str
    settings: MonitoringSettings
    alertmanager: AlertmanagerSettings
    integrations: Integrations
    inventory: Inventory
    rule_files: list[RuleFile]
    dashboards: list[Dashboard]
    secrets: MonitoringSecrets
    loki_url: str | None = None
    extra_scrape_specs: list[ScrapeSpec] = field(default_factory=list)
    lab_ca_pem: pulumi.Input[str] | None = None
    """The lab CA's certificate: every integration's TLS is verified against it."""


class MonitoringStack(pulumi.ComponentResource):
    release: k8s.helm.v3.Release

    def __init__(
        self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:platform:MonitoringStack", name, None, opts)
        self._args = args
        self._name = name
        child = child_options(self, opts)
        secrets = self._secrets(child)
        lab_ca = self._lab_ca(child)
        self.release = helm_release(
            f"{name}-kube-prometheus-stack",
            KUBE_PROMETHEUS_STACK,
            args.namespace,
            kube_prometheus_values(
                args.settings,
                loki_url=args.loki_url,
                lab_ca_configmap=LAB_CA_CONFIGMAP.secret if lab_ca else None,
            ),
            # The chart reads the admin and Alertmanager secrets at install time, and
            # Alertmanager mounts the lab CA.
            child_options(self, opts, [*secrets, *([lab_ca] if lab_ca else [])]),
            release_name="kube-prometheus-stack",
        )
        # Custom resources of the chart's CRDs can only be created once the chart is in.
        after_chart = child_options(self, opts, [self.release])
        self._rules(after_chart)
        self._dashboards(child)
        pve_address = self._pve_exporter(
            child if lab_ca is None else child_options(self, opts, [lab_ca])
        )
        self._scrape_configs(after_chart, pve_address)
        self.register_outputs({"release": self.release.name})

    def _metadata(self, name: str, component: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=self._args.namespace,
            labels=recommended_labels(name, component),
        )

    def _secrets(self, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        a = self._args
        created: list[pulumi.Resource] = [
            k8s.core.v1.Secret(
                f"{self._name}-grafana-admin",
                metadata=self._metadata(GRAFANA_ADMIN_SECRET, "grafana"),
                string_data={
                    "admin-user": "admin",
                    "admin-password": secret(a.secrets.grafana_admin_password),
                },
                opts=opts,
            ),
            k8s.core.v1.Secret(
                f"{self._name}-alertmanager-config",
                metadata=self._metadata(ALERTMANAGER_CONFIG_SECRET, "alertmanager"),
                string_data={
                    "alertmanager.yaml": yaml.safe_dump(
                        alertmanager_config(a.alertmanager), sort_keys=False
                    )
                },
                opts=opts,
            ),
        ]
        if a.integrations.home_assistant:
            if a.secrets.home_assistant_token is None:
                raise ValueError("home assistant is configured but its token is not")
            created.append(
                k8s.core.v1.Secret(
                    f"{self._name}-home-assistant-token",
                    metadata=self._metadata(HOME_ASSISTANT_SECRET, "scrape-credentials"),
                    string_data={"token": secret(a.secrets.home_assistant_token)},
                    opts=opts,
                )
            )
        return created

    def _lab_ca(self, opts: pulumi.ResourceOptions) -> k8s.core.v1.ConfigMap | None:
        """The lab CA as the ConfigMap that scrape configs, Alertmanager and pve-exporter
        verify integrations' certificates with; required once anything talks TLS to one."""
        a = self._args
        needs_it = bool(a.integrations.configured()) or a.alertmanager.home_assistant is not None
        if a.lab_ca_pem is None:
            if needs_it:
                raise ValueError(
                    "integrations are configured, but not the lab CA that verifies their TLS "
                    "(MonitoringStackArgs.lab_ca_pem)"
                )
            return None
        # Alertmanager reads it where the chart mounts ConfigMaps (alertmanagerSpec.configMaps,
        # alertmanager.LAB_CA_FILE).
        return k8s.core.v1.ConfigMap(
            f"{self._name}-lab-ca",
            metadata=self._metadata(LAB_CA_CONFIGMAP.secret, "lab-ca"),
            data={LAB_CA_CONFIGMAP.key: a.lab_ca_pem},
            opts=opts,
        )

    def _rules(self, opts: pulumi.ResourceOptions) -> None:
        for rule_file in self._args.rule_files:
            k8s.apiextensions.CustomResource(
                f"{self._name}-rules-{rule_file.name}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=self._metadata(f"lab-{rule_file.name}", "alert-rules"),
                spec={"groups": rule_file.groups},
                opts=opts,
            )

    def _dashboards(self, opts: pulumi.ResourceOptions) -> None:
        for dashboard in self._args.dashboards:
            metadata = self._metadata(f"dashboard-{dashboard.name}", "dashboard")
            labels = {**recommended_labels(f"dashboard-{dashboard.name}", "dashboard")}
            labels[DASHBOARD_LABEL] = "1"
            k8s.core.v1.ConfigMap(
                f"{self._name}-dashboard-{dashboard.name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=metadata.name,
                    namespace=metadata.namespace,
                    labels=labels,
                    annotations={"grafana_folder": "Lab"},
                ),
                data={f"{dashboard.name}.json": dashboard.json},
                opts=opts,
            )

    def _pve_exporter(self, opts: pulumi.ResourceOptions) -> str:
        """Deploy prometheus-pve-exporter when Proxmox is configured; its Service address."""
        a = self._args
        proxmox = a.integrations.proxmox
        if proxmox is None:
            return ""
        if a.secrets.proxmox_token_value is None:
            raise ValueError("proxmox is configured but its API token is not")
        token_secret = k8s.core.v1.Secret(
            f"{self._name}-pve-exporter-token",
            metadata=self._metadata(PVE_EXPORTER_SECRET, "scrape-credentials"),
            string_data={"token": secret(a.secrets.proxmox_token_value)},
            opts=opts,
        )
        DeviceApp(
            f"{self._name}-pve-exporter",
            DeviceAppArgs(
                app="pve-exporter",
                namespace=a.namespace,
                image=PVE_EXPORTER_IMAGE,
                port=PVE_EXPORTER_PORT,
                version=PVE_EXPORTER_IMAGE.rsplit(":", 1)[1],
                # pve-exporter passes verify_ssl to proxmoxer, whose requests session then
                # verifies against REQUESTS_CA_BUNDLE: the lab CA, not the image's CAs
                # (prometheus-pve-exporter v3.5.5 src/pve_exporter/config.py,
                # config_from_env; collector/__init__.py, ProxmoxAPI(host, **config); proven
                # against fakepve by tests/integrations/test_proxmox.py).
                env={
                    "PVE_USER": proxmox.user,
                    "PVE_TOKEN_NAME": proxmox.token_name,
                    "PVE_VERIFY_SSL": "true",
                    "REQUESTS_CA_BUNDLE": f"{LAB_CA_MOUNT}/{LAB_CA_CONFIGMAP.key}",
                },
                secret_env={"PVE_TOKEN_VALUE": SecretEnv(PVE_EXPORTER_SECRET, "token")},
                config_maps={LAB_CA_CONFIGMAP.secret: LAB_CA_MOUNT},
                health_path="/",
                service_monitor=False,
                component="exporter",
            ),
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[token_secret])
            ),
        )
        return f"pve-exporter.{a.namespace}.svc:{PVE_EXPORTER_PORT}"

    def _scrape_configs(self, opts: pulumi.ResourceOptions, pve_address: str) -> None:
        a = self._args
        specs = [
            *inventory_scrape_specs(a.inventory),
            *integration_scrape_specs(
                a.integrations,
                replicas=1,
                pve_exporter_address=pve_address,
                blackbox_address=f"blackbox-exporter.{a.namespace}.svc:{BLACKBOX_PORT}",
                graphite_address=(
                    f"graphite-exporter.{a.namespace}.svc:{GRAPHITE_EXPORTER_WEB_PORT}"
                ),
            ),
            *a.extra_scrape_specs,
        ]
        for spec in specs:
            k8s.apiextensions.CustomResource(
                f"{self._name}-scrape-{spec.name}",
                api_version="monitoring.coreos.com/v1alpha1",
                kind="ScrapeConfig",
                metadata=self._metadata(spec.name, "scrape-config"),
                spec=json.loads(json.dumps(spec.spec)),
                opts=opts,
            )
