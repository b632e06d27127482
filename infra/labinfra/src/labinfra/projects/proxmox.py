"""The proxmox project: the k3s node VMs of the inventory's `proxmox_vms` group and their
nightly vzdump backups, on the lab's Proxmox VE cluster (labinfra.proxmox).

Deploy it before the cluster stack: the VMs must answer SSH at their inventory addresses
before Ansible prepares them and the cluster stack installs k3s on them.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_proxmoxve as proxmoxve
from pydantic import Field

from labinfra.inventory import load_inventory
from labinfra.kube import secret
from labinfra.proxmox import BackupSettings, ProxmoxVms, ProxmoxVmsArgs, node_vms
from labinfra.stackconfig import ConfigModel


class ProxmoxConfig(ConfigModel):
    inventory: str
    """Path to the Ansible inventory, relative to this project's folder."""
    endpoint: str = Field(pattern=r"^https://[\w.\-]+(:\d+)?/$")
    """The Proxmox VE API (any node of the cluster), e.g. https://pve1.lab.internal:8006/."""
    insecure: bool = False
    """Skip TLS verification of the API: keep false and give Proxmox a certificate the
    machine running Pulumi trusts (the lab CA in its trust store)."""
    backup: BackupSettings


SECRETS = ("apiToken",)
"""`pulumi config set --secret apiToken 'terraform@pve!lab=<uuid>'` (user@realm!id=secret)."""


def build_proxmox(config: ProxmoxConfig, api_token: pulumi.Output[str]) -> None:
    inventory = load_inventory(Path(config.inventory).resolve())
    vms = node_vms(inventory)
    # Explicit provider: the stack file disables all defaults.
    provider = proxmoxve.Provider(
        "proxmoxve",
        endpoint=config.endpoint,
        api_token=secret(api_token),
        insecure=config.insecure,
    )
    ProxmoxVms(
        "k3s-nodes",
        ProxmoxVmsArgs(vms=vms, backup=config.backup),
        pulumi.ResourceOptions(providers=[provider]),
    )
    pulumi.export("nodes", {vm.host: vm.address for vm in vms})
    pulumi.export("vmIds", {vm.host: vm.spec.vm_id for vm in vms})
