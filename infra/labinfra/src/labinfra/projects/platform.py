"""The platform project: monitoring, logging, the registry, CI runners and what pull-request
previews need on the cluster."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls
from pydantic import Field

from labinfra.backups import BackupSettings, EtcdS3Target, etcd_s3_secret_data
from labinfra.extras import NfsSettings, Runners, RunnersArgs, RunnerSettings, nfs_storage
from labinfra.inventory import load_inventory
from labinfra.kube import kubernetes_provider
from labinfra.logging_stack import LoggingStack, LoggingStackArgs, loki_url
from labinfra.monitoring.alertmanager import AlertmanagerSettings
from labinfra.monitoring.exporters import ExporterSecrets
from labinfra.monitoring.files import load_dashboards, load_graphite_mapping, load_rule_files
from labinfra.monitoring.scrape import Integrations
from labinfra.monitoring.stack import MonitoringSecrets, MonitoringStack, MonitoringStackArgs
from labinfra.monitoring.values import LoggingSettings, MonitoringSettings
from labinfra.names import recommended_labels
from labinfra.netpol import integration_network, integration_policies
from labinfra.previews import PreviewPlatform, PreviewPlatformArgs, PreviewSettings
from labinfra.registry import (
    REGISTRY_USER,
    CaKeyPair,
    Registry,
    RegistryArgs,
    RegistrySettings,
)
from labinfra.stackconfig import ConfigModel, StackConfigError, read_secrets
from labinfra.storage import (
    DEMOCRATIC_CSI_NAMESPACE,
    PROXMOX_CSI_NAMESPACE,
    Storage,
    StorageArgs,
    StorageSettings,
)


class PlatformConfig(ConfigModel):
    SECRETS: ClassVar[tuple[str, ...]] = (
        "grafanaAdminPassword",
        "homeAssistantToken",
        "homeAssistantWebhookId",
        "proxmoxTokenValue",
        "truenasApiKey",
        "githubToken",
        "previewJanitorGithubToken",
        "proxmoxCsiTokenSecret",
        "truenasCsiApiKey",
        "etcdS3AccessKey",
        "etcdS3SecretKey",
    )
    cluster_stack: str
    inventory: str
    """Path to the Ansible inventory, relative to this project's folder."""
    monitoring_files: str = "../../monitoring"
    """Folder holding `rules/*.rules.yml`, `dashboards/*.json` and `graphite/`."""
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    alertmanager: AlertmanagerSettings = Field(default_factory=AlertmanagerSettings)
    integrations: Integrations = Field(default_factory=Integrations)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    runners: RunnerSettings = Field(default_factory=RunnerSettings)
    nfs: NfsSettings = Field(default_factory=NfsSettings)
    previews: PreviewSettings = Field(default_factory=PreviewSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    """Storage classes from Proxmox and TrueNAS (labinfra.storage)."""
    backups: BackupSettings = Field(default_factory=BackupSettings)
    """Where k3s uploads its etcd snapshots (labinfra.backups)."""

    def secret_keys(self) -> list[str]:
        """The secrets this configuration needs (`pulumi config set --secret <key>`)."""
        keys = ["grafanaAdminPassword"]
        if self.integrations.home_assistant:
            keys.append("homeAssistantToken")
        if self.alertmanager.home_assistant:
            keys.append("homeAssistantWebhookId")
        if self.integrations.proxmox:
            keys.append("proxmoxTokenValue")
        if self.integrations.truenas:
            keys.append("truenasApiKey")
        if self.runners.enabled:
            keys.append("githubToken")
        if self.previews.enabled:
            keys.append("previewJanitorGithubToken")
        keys += self.storage.secret_keys()
        keys += self.backups.secret_keys()
        return keys


GRAPHITE_MAPPING_FILE = "graphite/truenas-mapping.yml"
"""graphite_exporter's mapping of what TrueNAS sends, under `monitoringFiles`."""

NAMESPACES = {
    # baseline, not restricted: Alloy runs as root (its image has no USER) and Grafana's
    # init-chown-data runs as root with CHOWN and DAC_OVERRIDE (labinfra/upstream/charts
    # alloy and grafana chart.yaml). No hostPath, host network or privileged pod runs here
    # since the chart's node exporter is off.
    "monitoring": "baseline",
    "registry": "restricted",
    "arc-system": "restricted",
    "arc-runners": "baseline",
    "storage": "privileged",
}


def build_platform(config: PlatformConfig, secrets: dict[str, pulumi.Output[str]]) -> None:
    inventory = load_inventory(Path(config.inventory).resolve())
    files = Path(config.monitoring_files)
    rule_files = load_rule_files(files / "rules")
    dashboards = load_dashboards(files / "dashboards")
    graphite_mapping = (
        load_graphite_mapping(files / GRAPHITE_MAPPING_FILE)
        if config.integrations.truenas
        else None
    )

    cluster = pulumi.StackReference(config.cluster_stack)
    provider = kubernetes_provider("k8s", cluster.require_output("kubeconfig"))
    opts = pulumi.ResourceOptions(provider=provider)
    namespaces = {
        name: k8s.core.v1.Namespace(
            f"namespace-{name}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name,
                labels={
                    **recommended_labels(name, "namespace"),
                    "pod-security.kubernetes.io/enforce": level,
                },
            ),
            opts=opts,
        )
        for name, level in NAMESPACES.items()
        if _wanted(name, config)
    }

    def inside(namespace: str) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=provider, depends_on=[namespaces[namespace]])

    # Explicit providers for every package: the stack file disables all defaults.
    tls_provider = tls.Provider("tls")
    # The lab CA and the registry's password are the cluster stack's: the nodes were
    # given them when k3s was installed. The integrations' TLS checks verify with the same
    # CA (the monitoring namespace's `lab-ca` ConfigMap).
    ca = CaKeyPair(
        key_pem=cluster.require_output("labCaKeyPem"),
        cert_pem=cluster.require_output("labCaCertPem"),
    )
    registry_host = cluster.require_output("registryHost")
    logging = LoggingStack(
        "logging",
        LoggingStackArgs(namespace="monitoring", settings=config.logging),
        inside("monitoring"),
    )
    MonitoringStack(
        "monitoring",
        MonitoringStackArgs(
            namespace="monitoring",
            settings=config.monitoring,
            alertmanager=config.alertmanager,
            integrations=config.integrations,
            inventory=inventory,
            rule_files=rule_files,
            dashboards=dashboards,
            secrets=MonitoringSecrets(
                grafana_admin_password=secrets["grafanaAdminPassword"],
                integrations=ExporterSecrets(
                    home_assistant_token=secrets.get("homeAssistantToken"),
                    proxmox_token_value=secrets.get("proxmoxTokenValue"),
                    truenas_api_key=secrets.get("truenasApiKey"),
                ),
                home_assistant_webhook_id=secrets.get("homeAssistantWebhookId"),
            ),
            lab_ca_pem=ca.cert_pem,
            loki_url=loki_url("monitoring"),
            graphite_mapping=graphite_mapping,
        ),
        pulumi.ResourceOptions(provider=provider, depends_on=[namespaces["monitoring"], logging]),
    )
    registry = Registry(
        "registry",
        RegistryArgs(
            namespace="registry",
            host=registry_host,
            settings=config.registry,
            ca=ca,
            password=cluster.require_output("registryPassword"),
            htpasswd=cluster.require_output("registryHtpasswd"),
        ),
        pulumi.ResourceOptions(
            providers=[provider, tls_provider, random.Provider("random")],
            depends_on=[namespaces["registry"]],
        ),
    )
    if config.runners.enabled:
        Runners(
            "runners",
            RunnersArgs(
                controller_namespace="arc-system",
                runners_namespace="arc-runners",
                settings=config.runners,
                github_token=secrets["githubToken"],
            ),
            pulumi.ResourceOptions(
                provider=provider,
                depends_on=[namespaces["arc-system"], namespaces["arc-runners"]],
            ),
        )
    if config.nfs.enabled:
        nfs_storage("nfs", "storage", config.nfs, inside("storage"))
    preview_namespaces: dict[str, k8s.core.v1.Namespace] = {}
    if config.previews.enabled:
        # Pull-request previews (labinfra.previews): outputs the preview stacks read.
        previews = PreviewPlatform(
            "previews",
            PreviewPlatformArgs(
                settings=config.previews,
                ca=ca,
                janitor_github_token=secrets["previewJanitorGithubToken"],
            ),
            pulumi.ResourceOptions(providers=[provider, tls_provider]),
        )
        pulumi.export("previewDomain", config.previews.domain)
        pulumi.export("previewTlsCertPem", previews.tls_cert_pem)
        pulumi.export("previewTlsKeyPem", previews.tls_key_pem)
        preview_namespaces = previews.namespaces
    if config.backups.etcd_s3:
        etcd_s3_secret(
            config.backups.etcd_s3,
            access_key=secrets["etcdS3AccessKey"],
            secret_key=secrets["etcdS3SecretKey"],
            ca_pem=ca.cert_pem,
            opts=opts,
        )
    storage_namespaces: dict[str, k8s.core.v1.Namespace] = {}
    if config.storage.enabled:
        storage = Storage(
            "storage",
            StorageArgs(
                settings=config.storage,
                lab_ca_pem=ca.cert_pem,
                secrets={k: secrets[k] for k in config.storage.secret_keys()},
            ),
            pulumi.ResourceOptions(provider=provider),
        )
        storage_namespaces = storage.namespaces
    network = integration_network(
        config.integrations, monitoring_namespace="monitoring", csi=_csi_backends(config)
    )
    created = {**namespaces, **storage_namespaces, **preview_namespaces}
    integration_policies(
        "integrations-egress",
        network,
        # Every namespace of this stack, and k3s's own (the apps stack covers its own).
        [*created, "kube-system", "default"],
        {
            ns: pulumi.ResourceOptions(provider=provider, depends_on=[r])
            for ns, r in created.items()
        },
        opts,
    )
    pulumi.export("integrationCidrs", list(network.cidrs))

    pulumi.export("labCaCertPem", ca.cert_pem)
    pulumi.export("registryHost", registry_host)
    pulumi.export("registryUsername", REGISTRY_USER)
    pulumi.export("registryPassword", registry.password)
    pulumi.export("registryDockerConfig", registry.docker_config)
    pulumi.export(
        "grafanaUrl",
        f"https://{config.monitoring.grafana_host}" if config.monitoring.grafana_host else "",
    )


def _wanted(namespace: str, config: PlatformConfig) -> bool:
    if namespace.startswith("arc-"):
        return config.runners.enabled
    if namespace == "storage":
        return config.nfs.enabled
    return True


def read_platform_secrets(config: PlatformConfig) -> dict[str, pulumi.Output[str]]:
    """The secrets `config` needs, or StackConfigError naming the missing ones."""
    keys = config.secret_keys()
    missing = [k for k in keys if pulumi.Config().get(k) is None]
    if missing:
        name = pulumi.Config().name
        raise StackConfigError(
            "configuration errors:\n  "
            + "\n  ".join(
                f"{name}:{k}: missing secret (set it with `pulumi config set --secret {k}`)"
                for k in missing
            )
        )
    return read_secrets(keys)


def etcd_s3_secret(
    target: EtcdS3Target,
    *,
    access_key: pulumi.Input[str],
    secret_key: pulumi.Input[str],
    ca_pem: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Secret:
    """The kube-system Secret the k3s servers read to upload etcd snapshots (--etcd-s3-
    config-secret); the servers' flags are the cluster stack's (labinfra.backups)."""
    data = pulumi.Output.all(access_key, secret_key, ca_pem).apply(
        lambda v: etcd_s3_secret_data(target, access_key=v[0], secret_key=v[1], ca_pem=v[2])
    )
    return k8s.core.v1.Secret(
        "etcd-s3",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=target.secret_name,
            namespace="kube-system",
            labels=recommended_labels("k3s-etcd-snapshots", "backup-credentials"),
        ),
        # Secret because the keys are (Output.all keeps secretness); tests check it.
        string_data=data,
        opts=opts,
    )


def _csi_backends(config: PlatformConfig) -> dict[str, tuple[str, int]]:
    """CSI namespaces -> the integration whose API their controller calls, and its port."""
    found: dict[str, tuple[str, int]] = {}
    pve = config.storage.proxmox_csi
    if pve:
        host = pve.url.split("/")[2]
        found[PROXMOX_CSI_NAMESPACE] = (
            "proxmox",
            int(host.rsplit(":", 1)[1]) if ":" in host else 443,
        )
    if config.storage.truenas:
        found[DEMOCRATIC_CSI_NAMESPACE] = ("truenas", config.storage.truenas.port)
    return found
