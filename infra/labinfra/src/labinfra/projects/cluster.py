"""The cluster project: k3s on the inventory's `k3s_servers` and `k3s_agents`.

It also makes the lab CA and the registry's pull password: every node's k3s reads the
registry's credentials and CA at start, so they are written by the same script that
installs and restarts k3s, node by node (labinfra.k3s). The platform stack reads both from
this stack's outputs to run the registry behind a certificate of this CA.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pulumi
import pulumi_command as command
import pulumi_random as random
import pulumi_tls as tls
from pydantic import Field

from labinfra.backups import EtcdSnapshots
from labinfra.inventory import Host, Inventory, load_inventory
from labinfra.k3s.cluster import (
    K3sCluster,
    K3sClusterArgs,
    NodeRegistry,
    SshNode,
    kubeconfig_refresh_window,
)
from labinfra.k3s.scripts import K3sRelease, NodePlan, Role, node_config
from labinfra.kube import secret
from labinfra.proxmox import topology_labels
from labinfra.registry import REGISTRY_USER, LabCa, LabCaArgs, NodeRegistrySettings, htpasswd_line
from labinfra.stackconfig import ConfigModel

DEVICE_LABELS = {
    # inventory group -> node label, so device workloads can be scheduled next to hardware
    "dome_controllers": "lab.internal/dome-controller=true",
    "picotemp_exporters": "lab.internal/picotemp=true",
    "pis": "lab.internal/raspberry-pi=true",
}


class ClusterConfig(ConfigModel):
    inventory: str
    """Path to the Ansible inventory, relative to this project's folder."""
    k3s: K3sRelease = Field(alias="k3s")
    ssh_user: str = "ansible"
    ssh_port: int = Field(default=22, ge=1, le=65535)
    tls_sans: list[str] = Field(default_factory=list)
    secrets_encryption: bool = True
    registry: NodeRegistrySettings
    etcd_snapshots: EtcdSnapshots = Field(default_factory=EtcdSnapshots)
    """Scheduled etcd snapshots on the servers, uploaded to S3 (labinfra.backups)."""
    kubeconfig_refresh_days: int = Field(default=30, ge=1, le=90)
    """Read the kubeconfig again at least this often (k3s renews client certificates
    within 90 days of their expiry, on any restart)."""


SECRETS = ("sshPrivateKey",)


def node_plans(config: ClusterConfig, inventory: Inventory) -> list[SshNode]:
    """Servers in inventory order (the first initialises), then agents."""
    servers = inventory.require_group("k3s_servers")
    agents = [h for h in inventory.group("k3s_agents") if h.name not in {s.name for s in servers}]
    first = servers[0].address
    sans = sorted({*config.tls_sans, *(s.address for s in servers)})
    nodes = []
    for index, host in enumerate([*servers, *agents]):
        role: Role = (
            "server-init" if index == 0 else "server-join" if index < len(servers) else "agent"
        )
        nodes.append(
            SshNode(
                hostname=host.name,
                address=host.address,
                plan=NodePlan(
                    hostname=host.name,
                    role=role,
                    first_server=first,
                    address=host.address,
                    config=node_config(
                        role=role,
                        first_server=first,
                        tls_sans=sans,
                        node_labels=_labels(host),
                        secrets_encryption=config.secrets_encryption,
                        node_name=host.name,
                        server_extra=config.etcd_snapshots.k3s_config(),
                    ),
                ),
            )
        )
    return nodes


def _labels(host: Host) -> list[str]:
    device = [label for group, label in sorted(DEVICE_LABELS.items()) if group in host.groups]
    # Nodes that are Proxmox VMs carry their region and zone (labinfra.proxmox).
    return [*device, *topology_labels(host)]


def build_cluster(
    config: ClusterConfig, ssh_private_key: pulumi.Output[str], now: datetime | None = None
) -> None:
    inventory = load_inventory(Path(config.inventory).resolve())
    nodes = node_plans(config, inventory)
    # Explicit providers for every package: the stack file disables all defaults.
    random_provider = random.Provider("random")
    tls_provider = tls.Provider("tls")
    ca = LabCa(
        "lab-ca",
        LabCaArgs(common_name="lab CA", validity_hours=config.registry.ca_validity_hours),
        pulumi.ResourceOptions(provider=tls_provider),
    )
    password = random.RandomPassword(
        "registry-password",
        length=32,
        special=False,
        opts=pulumi.ResourceOptions(provider=random_provider),
    )
    cluster = K3sCluster(
        "k3s",
        K3sClusterArgs(
            release=config.k3s,
            nodes=nodes,
            ssh_user=config.ssh_user,
            ssh_port=config.ssh_port,
            ssh_private_key=ssh_private_key,
            registry=NodeRegistry(
                host=config.registry.host,
                username=REGISTRY_USER,
                password=secret(password.result),
                ca_cert_pem=ca.cert_pem,
            ),
            kubeconfig_refresh=kubeconfig_refresh_window(
                now or datetime.now(UTC), config.kubeconfig_refresh_days
            ),
        ),
        pulumi.ResourceOptions(providers=[command.Provider("command"), random_provider]),
    )
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("k3sVersion", config.k3s.version)
    pulumi.export("servers", [n.address for n in nodes if n.plan.role != "agent"])
    pulumi.export("labCaCertPem", ca.cert_pem)
    pulumi.export("labCaKeyPem", secret(ca.key.private_key_pem))
    pulumi.export("registryHost", config.registry.host)
    pulumi.export("registryUsername", REGISTRY_USER)
    pulumi.export("registryPassword", secret(password.result))
    pulumi.export(
        "registryHtpasswd",
        secret(password.bcrypt_hash.apply(lambda h: htpasswd_line(REGISTRY_USER, h))),
    )
