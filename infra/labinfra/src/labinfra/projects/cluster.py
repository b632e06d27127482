"""The cluster project: k3s on the inventory's `k3s_servers` and `k3s_agents`.

The nodes' registry access (/etc/rancher/k3s/registries.yaml) and trust in the lab CA are
Ansible's `k3s_prereqs` role's, fed from the platform stack's outputs: one writer per file.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_command as command
import pulumi_random as random
from pydantic import Field

from labinfra.inventory import Host, Inventory, load_inventory
from labinfra.k3s.cluster import K3sCluster, K3sClusterArgs, SshNode
from labinfra.k3s.scripts import K3sRelease, NodePlan, Role, node_config
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
                    config=node_config(
                        role=role,
                        first_server=first,
                        tls_sans=sans,
                        node_labels=_labels(host),
                        secrets_encryption=config.secrets_encryption,
                    ),
                ),
            )
        )
    return nodes


def _labels(host: Host) -> list[str]:
    return [label for group, label in sorted(DEVICE_LABELS.items()) if group in host.groups]


def build_cluster(config: ClusterConfig, ssh_private_key: pulumi.Output[str]) -> None:
    inventory = load_inventory(Path(config.inventory).resolve())
    nodes = node_plans(config, inventory)
    cluster = K3sCluster(
        "k3s",
        K3sClusterArgs(
            release=config.k3s,
            nodes=nodes,
            ssh_user=config.ssh_user,
            ssh_port=config.ssh_port,
            ssh_private_key=ssh_private_key,
        ),
        # Explicit providers for every package: the stack file disables all defaults.
        pulumi.ResourceOptions(providers=[command.Provider("command"), random.Provider("random")]),
    )
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("k3sVersion", config.k3s.version)
    pulumi.export("servers", [n.address for n in nodes if n.plan.role != "agent"])
