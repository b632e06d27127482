"""The apps project: the lab's device services on the cluster."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls
from pydantic import Field, field_validator

from labinfra.device_app import DeviceApp, DeviceAppArgs
from labinfra.device_ingress import (
    DeviceIngress,
    DeviceIngressArgs,
    DeviceIngressSettings,
    dome_devices,
    picotemp_devices,
)
from labinfra.inventory import load_inventory
from labinfra.kube import check_pinned_image, kubernetes_provider, restricted_namespace
from labinfra.monitoring.scrape import device_service
from labinfra.names import dns_name, recommended_labels
from labinfra.netpol import egress_policy
from labinfra.registry import CaKeyPair
from labinfra.stackconfig import ConfigModel

PICOTEMP = device_service("picotemp")
PICOTEMP_PORT = PICOTEMP.default_port
PICOTEMP_UID = 10001
"""The user the picotemp image is built to run as (apps/picotemp/Dockerfile)."""


class PicotempExporter(ConfigModel):
    """One Pico W temperature exporter (the `picotemp` app) in the cluster."""

    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$")
    server_url: str = Field(pattern=r"^https?://\S+$")
    """The Pico W's HTTP address (PICO_SERVER_URL)."""
    image: str

    @field_validator("image")
    @classmethod
    def _pinned(cls, image: str) -> str:
        return check_pinned_image(image)


class AppsConfig(ConfigModel):
    cluster_stack: str
    """Fully qualified name of the cluster stack (`org/lab-cluster/<stack>`)."""
    platform_stack: str
    """Fully qualified name of the platform stack (registry pull secret, namespace)."""
    inventory: str
    """The Ansible inventory (its dome controllers are exposed to Home Assistant)."""
    namespace: str = "devices"
    device_ingress: DeviceIngressSettings = DeviceIngressSettings()
    """The devices' read paths over TLS through Traefik, for Home Assistant
    (labinfra.device_ingress)."""
    picotemp_exporters: list[PicotempExporter] = Field(min_length=0)
    image_version: str = "0.1.0"


def build_apps(config: AppsConfig) -> None:
    cluster = pulumi.StackReference(config.cluster_stack)
    platform = pulumi.StackReference(config.platform_stack)
    provider = kubernetes_provider("k8s", cluster.require_output("kubeconfig"))
    opts = pulumi.ResourceOptions(provider=provider)
    namespace = restricted_namespace("devices-namespace", config.namespace, opts)
    pull_secret = _registry_pull_secret(config, platform, namespace, opts)
    # Nothing here may reach the integrations (Home Assistant, Proxmox, TrueNAS): only the
    # platform's monitoring namespace may (labinfra.netpol).
    egress_policy(
        "devices-integrations-egress",
        config.namespace,
        platform.require_output("integrationCidrs"),
        [],
        pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace])),
    )
    for exporter in config.picotemp_exporters:
        app = dns_name(f"picotemp-{exporter.name}")
        DeviceApp(
            app,
            DeviceAppArgs(
                app=app,
                namespace=namespace.metadata.name,
                image=exporter.image,
                port=PICOTEMP_PORT,
                version=_image_version(exporter.image, config.image_version),
                env={"PICO_SERVER_URL": exporter.server_url},
                image_pull_secret="registry-pull",
                run_as_user=PICOTEMP_UID,
                # The same job as the exporters on hosts: picotemp.rules.yml covers both.
                job=PICOTEMP.job,
            ),
            opts=pulumi.ResourceOptions(provider=provider, depends_on=[pull_secret]),
        )
    if config.device_ingress.enabled:
        _device_ingress(config, cluster, namespace, provider)
    pulumi.export("namespace", namespace.metadata.name)


def _device_ingress(
    config: AppsConfig,
    cluster: pulumi.StackReference,
    namespace: k8s.core.v1.Namespace,
    provider: pulumi.ProviderResource,
) -> None:
    settings = config.device_ingress
    inventory = load_inventory(Path(config.inventory).resolve())
    devices = dome_devices(inventory, settings) + picotemp_devices(
        [(e.name, e.server_url) for e in config.picotemp_exporters], settings
    )
    if not devices:
        return
    # The lab CA is the cluster stack's (labinfra.projects.cluster): Home Assistant
    # verifies the ingress's certificate with it.
    ca = CaKeyPair(
        key_pem=cluster.require_output("labCaKeyPem"),
        cert_pem=cluster.require_output("labCaCertPem"),
    )
    DeviceIngress(
        "devices-ingress",
        DeviceIngressArgs(
            namespace=namespace.metadata.name,
            devices=devices,
            ca=ca,
            cert_validity_hours=settings.cert_validity_hours,
        ),
        pulumi.ResourceOptions(providers=[provider, tls.Provider("tls")], depends_on=[namespace]),
    )


def _registry_pull_secret(
    config: AppsConfig,
    platform: pulumi.StackReference,
    namespace: pulumi.Resource,
    opts: pulumi.ResourceOptions,
) -> pulumi.Resource:
    return k8s.core.v1.Secret(
        "devices-registry-pull",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name="registry-pull",
            namespace=config.namespace,
            labels=recommended_labels("registry-pull", "image-pull-secret"),
        ),
        type="kubernetes.io/dockerconfigjson",
        string_data={".dockerconfigjson": platform.require_output("registryDockerConfig")},
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace])),
    )


def _image_version(image: str, default: str) -> str:
    """The tag of a pinned image, or the configured version for digest-only images."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else default
