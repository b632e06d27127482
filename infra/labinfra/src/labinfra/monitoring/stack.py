"""MonitoringStack: kube-prometheus-stack and everything the lab adds to it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import yaml

from labinfra.charts import KUBE_PROMETHEUS_STACK
from labinfra.helm import helm_release
from labinfra.inventory import Inventory
from labinfra.kube import child_options, secret
from labinfra.monitoring.alertmanager import AlertmanagerSettings, alertmanager_config
from labinfra.monitoring.exporters import (
    ExporterSecrets,
    IntegrationExporters,
    IntegrationExportersArgs,
    blackbox_address,
    graphite_address,
    pve_cache_address,
)
from labinfra.monitoring.files import Dashboard, RuleFile
from labinfra.monitoring.integrations import LAB_CA_CONFIGMAP
from labinfra.monitoring.scrape import (
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


@dataclass(frozen=True)
class MonitoringSecrets:
    grafana_admin_password: pulumi.Input[str]
    integrations: ExporterSecrets = field(default_factory=ExporterSecrets)
    """The integrations' API credentials (Prometheus scrapes Home Assistant with its token)."""
    home_assistant_webhook_id: pulumi.Input[str] | None = None
    """The id of Home Assistant's webhook trigger (alertmanager.homeAssistant): a shared secret."""


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
    lab_ca_pem: pulumi.Input[str]
    """The lab CA certificate: the `lab-ca` ConfigMap every TLS check of an integration uses."""
    loki_url: str | None = None
    extra_scrape_specs: list[ScrapeSpec] = field(default_factory=list)
    graphite_mapping: str | None = None
    """infra/monitoring/graphite/truenas-mapping.yml's text (TrueNAS's Graphite -> series)."""


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
        self.release = helm_release(
            f"{name}-kube-prometheus-stack",
            KUBE_PROMETHEUS_STACK,
            args.namespace,
            kube_prometheus_values(args.settings, loki_url=args.loki_url),
            # The chart reads the admin and Alertmanager secrets at install time.
            child_options(self, opts, secrets),
            release_name="kube-prometheus-stack",
        )
        # Custom resources of the chart's CRDs can only be created once the chart is in.
        after_chart = child_options(self, opts, [self.release])
        self._rules(after_chart)
        self._dashboards(child)
        self.exporters = IntegrationExporters(
            f"{name}-integrations",
            IntegrationExportersArgs(
                namespace=args.namespace,
                integrations=args.integrations,
                prometheus_replicas=args.settings.prometheus_replicas,
                secrets=args.secrets.integrations,
                graphite_mapping=args.graphite_mapping,
                truenas_cidrs=(
                    args.integrations.truenas.network_cidrs() if args.integrations.truenas else []
                ),
            ),
            # The exporters mount the lab CA.
            child_options(self, opts, [self._lab_ca]),
        )
        self._scrape_configs(after_chart)
        self.register_outputs({"release": self.release.name})

    def _metadata(self, name: str, component: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=self._args.namespace,
            labels=recommended_labels(name, component),
        )

    def _secrets(self, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        a = self._args
        # Alertmanager mounts it (alertmanagerSpec.configMaps) to verify Home Assistant's
        # certificate, and its pod does not start without it: the chart waits for it.
        self._lab_ca = k8s.core.v1.ConfigMap(
            f"{self._name}-lab-ca",
            metadata=self._metadata(LAB_CA_CONFIGMAP.secret, "lab-ca"),
            data={LAB_CA_CONFIGMAP.key: a.lab_ca_pem},
            opts=opts,
        )
        created: list[pulumi.Resource] = [
            self._lab_ca,
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
                string_data={"alertmanager.yaml": self._alertmanager_yaml()},
                opts=opts,
            ),
        ]
        if a.integrations.home_assistant:
            if a.secrets.integrations.home_assistant_token is None:
                raise ValueError("home assistant is configured but its token is not")
            created.append(
                k8s.core.v1.Secret(
                    f"{self._name}-home-assistant-token",
                    metadata=self._metadata(HOME_ASSISTANT_SECRET, "scrape-credentials"),
                    string_data={"token": secret(a.secrets.integrations.home_assistant_token)},
                    opts=opts,
                )
            )
        return created

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

    def _alertmanager_yaml(self) -> pulumi.Output[str]:
        a = self._args
        if a.alertmanager.home_assistant is None:
            return secret(yaml.safe_dump(alertmanager_config(a.alertmanager), sort_keys=False))
        if a.secrets.home_assistant_webhook_id is None:
            raise ValueError("alertmanager.homeAssistant is set but its webhook id is not")

        def render(webhook_id: str) -> str:
            config = alertmanager_config(a.alertmanager, home_assistant_webhook_id=webhook_id)
            return yaml.safe_dump(config, sort_keys=False)

        return secret(pulumi.Output.from_input(a.secrets.home_assistant_webhook_id).apply(render))

    def _scrape_configs(self, opts: pulumi.ResourceOptions) -> None:
        a = self._args
        specs = [
            *inventory_scrape_specs(a.inventory),
            *integration_scrape_specs(
                a.integrations,
                # Probes and direct scrapes are made by every replica: the intervals are
                # stretched by the real replica count (labinfra.monitoring.integrations.plan).
                replicas=a.settings.prometheus_replicas,
                pve_exporter_address=pve_cache_address(a.namespace),
                blackbox_address=blackbox_address(a.namespace),
                graphite_address=graphite_address(a.namespace),
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
