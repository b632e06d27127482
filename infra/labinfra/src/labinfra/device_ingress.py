"""The lab's devices, read-only, over TLS through the cluster's ingress (for Home Assistant).

Home Assistant lives in zone `external` (inventory/production/group_vars/all/zones.yml):
encryption required, nothing in the lab open to it. The devices serve plain HTTP (the dome
on `dome_port`, which its host firewall opens to management, lab and monitoring only; the
Pico W on port 80). So Home Assistant does not reach them; it reaches k3s's Traefik over
TLS with a certificate from the lab CA, and Traefik reaches the devices from a node's
address, which the `dome` service admits as its `monitoring` source (the k3s_cluster group).

Per device: a selector-less Service and an EndpointSlice at the device's address and port
(the Kubernetes documentation, "Services without selectors": an EndpointSlice labelled
`kubernetes.io/service-name` backs it), and one rule of the Ingress that routes ONLY the
read paths Home Assistant's documented sensors use, each as `pathType: Exact` (Traefik
turns Exact into a `Path` matcher, Prefix into `PathPrefix`): no command endpoint of the
dome's API is reachable through it.

Upstream facts this relies on:
- k3s v1.32 and later install Traefik v3 (docs.k3s.io, "Upgrades", version-specific
  caveats); the cluster stack pins v1.33.5+k3s1.
- Traefik v3's Kubernetes Ingress provider finds a Service's backends through its
  EndpointSlices (traefik/traefik, pkg/provider/kubernetes/ingress/client.go,
  `GetEndpointSlicesForService`), so a selector-less Service with a hand-made slice routes.
- `traefik.ingress.kubernetes.io/router.tls: "true"` and `router.entrypoints: websecure`
  serve the routes on the TLS entrypoint only (traefik docs, "Kubernetes Ingress"
  annotations), as the registry's Ingress does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field

from labinfra.inventory import Inventory
from labinfra.kube import child_options, secret
from labinfra.monitoring.scrape import device_service, service_port
from labinfra.names import dns_name, recommended_labels
from labinfra.registry import CaKeyPair
from labinfra.stackconfig import ConfigModel

DOME_READ_PATHS = ("/api/dome/status",)
"""apps/dome's status read (DomeStatus), the one path the documented dome sensors poll."""
PICOTEMP_READ_PATHS = ("/",)
"""The Pico W firmware's reading, `GET /` -> {"tempC": ..., "tempF": ...}."""
TLS_SECRET = "devices-ingress-tls"  # noqa: S105 (a Secret's name, not a password)
INGRESS_NAME = "devices-read"
HOST_PATTERN = r"^[a-z0-9]([a-z0-9.\-]*[a-z0-9])?$"


class DeviceIngressSettings(ConfigModel):
    """Where Home Assistant reads the devices (host names the lab's DNS points at the
    k3s nodes, where ServiceLB answers for Traefik)."""

    enabled: bool = True
    dome_host: str = Field(default="dome.lab.internal", pattern=HOST_PATTERN)
    """The dome's name; with several dome controllers, `<inventory host>.<dome_host>`."""
    picotemp_host: str = Field(default="picotemp.lab.internal", pattern=HOST_PATTERN)
    """The Pico W's name; with several exporters, `<exporter name>.<picotemp_host>`."""
    cert_validity_hours: int = Field(default=24 * 365, ge=24)


@dataclass(frozen=True)
class ExposedDevice:
    """One device behind the ingress: its Service, where it is, and what may be read."""

    name: str
    host: str
    address: str
    port: int
    paths: tuple[str, ...]


def _ip(address: str, what: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        raise ValueError(
            f"{what}: {address!r} is not an IP address (an EndpointSlice needs one)"
        ) from None


def _host_for(base: str, member: str, count: int) -> str:
    return base if count == 1 else f"{dns_name(member)}.{base}"


def dome_devices(inventory: Inventory, settings: DeviceIngressSettings) -> list[ExposedDevice]:
    """Every dome controller of the inventory, at its `ansible_host` and `dome_port`."""
    dome = device_service("dome")
    domes = inventory.group(dome.group)
    found = []
    for host in domes:
        # `dome_port`, else the app's default, as the scrape config reads it.
        port = service_port(host, dome)
        found.append(
            ExposedDevice(
                name=dns_name(f"dome-{host.name}"),
                host=_host_for(settings.dome_host, host.name, len(domes)),
                address=_ip(host.address, f"inventory: {host.name}: ansible_host"),
                port=port,
                paths=DOME_READ_PATHS,
            )
        )
    return found


def picotemp_devices(
    exporters: Sequence[tuple[str, str]], settings: DeviceIngressSettings
) -> list[ExposedDevice]:
    """The Pico Ws the apps stack's exporters read: (exporter name, the Pico's URL)."""
    found = []
    for name, url in exporters:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"picotempExporters: {name}: {url!r} is not http://<address>")
        found.append(
            ExposedDevice(
                name=dns_name(f"picotemp-{name}-pico"),
                host=_host_for(settings.picotemp_host, name, len(exporters)),
                address=_ip(parts.hostname, f"picotempExporters: {name}: serverUrl"),
                port=parts.port or 80,
                paths=PICOTEMP_READ_PATHS,
            )
        )
    return found


@dataclass(frozen=True)
class DeviceIngressArgs:
    namespace: pulumi.Input[str]
    devices: Sequence[ExposedDevice]
    ca: CaKeyPair
    cert_validity_hours: int


class DeviceIngress(pulumi.ComponentResource):
    """Selector-less Services and EndpointSlices for the devices, and one TLS Ingress."""

    def __init__(
        self, name: str, args: DeviceIngressArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:apps:DeviceIngress", name, None, opts)
        if not args.devices:
            raise ValueError("DeviceIngress: no devices to expose")
        hosts = [d.host for d in args.devices]
        if len(set(hosts)) != len(hosts):
            raise ValueError(f"DeviceIngress: two devices share a host name: {sorted(hosts)}")
        self._args = args
        child = child_options(self, opts)
        dns_names: list[pulumi.Input[str]] = list(hosts)
        key, cert = args.ca.issue(f"{name}-tls", dns_names, args.cert_validity_hours, child)
        tls_secret = k8s.core.v1.Secret(
            f"{name}-tls",
            metadata=self._metadata(TLS_SECRET, "ingress-tls"),
            type="kubernetes.io/tls",
            string_data={
                "tls.crt": pulumi.Output.concat(cert.cert_pem, args.ca.cert_pem),
                "tls.key": secret(key.private_key_pem),
            },
            opts=child,
        )
        backends: list[pulumi.Resource] = [tls_secret]
        for device in args.devices:
            service = k8s.core.v1.Service(
                f"{name}-{device.name}-service",
                metadata=self._metadata(device.name, "device-endpoint"),
                spec=k8s.core.v1.ServiceSpecArgs(
                    type="ClusterIP",
                    # No selector: the endpoints are the device's, from the slice below.
                    ports=[
                        k8s.core.v1.ServicePortArgs(
                            name="http", protocol="TCP", port=device.port, target_port=device.port
                        )
                    ],
                ),
                opts=child,
            )
            endpoints = k8s.discovery.v1.EndpointSlice(
                f"{name}-{device.name}-endpoints",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=device.name,
                    namespace=args.namespace,
                    labels={
                        **recommended_labels(device.name, "device-endpoint"),
                        "kubernetes.io/service-name": device.name,
                        # Not the EndpointSlice controller's: it leaves the slice alone.
                        "endpointslice.kubernetes.io/managed-by": "pulumi.lab.internal",
                    },
                ),
                address_type="IPv6" if ":" in device.address else "IPv4",
                endpoints=[
                    k8s.discovery.v1.EndpointArgs(
                        addresses=[device.address],
                        conditions=k8s.discovery.v1.EndpointConditionsArgs(ready=True),
                    )
                ],
                ports=[
                    k8s.discovery.v1.EndpointPortArgs(name="http", protocol="TCP", port=device.port)
                ],
                opts=child_options(self, opts, [service]),
            )
            backends += [service, endpoints]
        k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=INGRESS_NAME,
                namespace=args.namespace,
                labels=recommended_labels(INGRESS_NAME, "ingress"),
                annotations={
                    "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
                    "traefik.ingress.kubernetes.io/router.tls": "true",
                },
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name="traefik",
                tls=[k8s.networking.v1.IngressTLSArgs(hosts=hosts, secret_name=TLS_SECRET)],
                rules=[self._rule(device) for device in args.devices],
            ),
            opts=child_options(self, opts, backends),
        )
        self.register_outputs({"hosts": hosts})

    def _metadata(self, name: str, component: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=self._args.namespace, labels=recommended_labels(name, component)
        )

    @staticmethod
    def _rule(device: ExposedDevice) -> k8s.networking.v1.IngressRuleArgs:
        return k8s.networking.v1.IngressRuleArgs(
            host=device.host,
            http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                paths=[
                    k8s.networking.v1.HTTPIngressPathArgs(
                        path=path,
                        # Exact, never Prefix: `/api/dome/status` must not open
                        # `/api/dome/status/...`, and `/` must not open everything.
                        path_type="Exact",
                        backend=k8s.networking.v1.IngressBackendArgs(
                            service=k8s.networking.v1.IngressServiceBackendArgs(
                                name=device.name,
                                port=k8s.networking.v1.ServiceBackendPortArgs(name="http"),
                            )
                        ),
                    )
                    for path in device.paths
                ]
            ),
        )
