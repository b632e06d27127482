"""k3s node VMs on the lab's Proxmox VE cluster, from the Ansible inventory.

The inventory is the one source of the VMs: each host of the `proxmox_vms` group is a VM,
its `ansible_host` the static address cloud-init gives it, its `proxmox_vm` variable the
Proxmox node, VM id and size. The same hosts are in `k3s_agents` (or `k3s_servers`), so
the cluster stack installs k3s on them at those addresses, Ansible prepares them, and
Prometheus scrapes them; nothing is copied between stacks (see docs/proxmox.md, "Why the
inventory and not a StackReference").

Facts about the provider (pulumi-proxmoxve 8.6.0 = bpg/terraform-provider-proxmox):
`VmLegacy` is `proxmox_virtual_environment_vm` (docs/resources/virtual_environment_vm.md at
bpg v0.111.1: clone from a template, `initialization` is cloud-init with `ip_config`
and `user_account`, `agent.enabled` for the QEMU agent); `backup.Job` is
`proxmox_backup_job` (docs/resources/backup_job.md: `id` -> `resource_id`, schedule in
systemd calendar format, `vmid` list, `prune_backups` keep-* map).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_proxmoxve as proxmoxve
from pydantic import Field, ValidationError, field_validator

from labinfra.inventory import Host, Inventory, InventoryError
from labinfra.stackconfig import ConfigModel

VM_GROUP = "proxmox_vms"
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"


class VmSpec(ConfigModel):
    """One host's `proxmox_vm` inventory variable (snake_case, as Ansible variables are)."""

    node: str = Field(alias="node", pattern=r"^[a-z0-9][a-z0-9-]*$")
    """The Proxmox node the VM runs on: its Kubernetes topology zone."""
    vm_id: int = Field(alias="vm_id", ge=100, le=999_999_999)
    cores: int = Field(default=2, alias="cores", ge=1, le=64)
    memory_mib: int = Field(default=4096, alias="memory_mib", ge=512)
    disk_gib: int = Field(default=32, alias="disk_gib", ge=8)


class VmNetwork(ConfigModel):
    bridge: str = Field(default="vmbr0", alias="bridge")
    prefix_length: int = Field(alias="prefix_length", ge=8, le=30)
    gateway: str = Field(alias="gateway")
    dns_servers: list[str] = Field(default_factory=list, alias="dns_servers")

    @field_validator("gateway")
    @classmethod
    def _ip(cls, value: str) -> str:
        return str(ipaddress.ip_address(value))


class VmTemplate(ConfigModel):
    node: str = Field(alias="node")
    vm_id: int = Field(alias="vm_id", ge=100)


@dataclass(frozen=True)
class NodeVm:
    """Everything one VM needs, read and checked from the inventory."""

    host: str
    address: str
    spec: VmSpec
    cluster: str
    network: VmNetwork
    template: VmTemplate
    datastore: str
    username: str
    ssh_keys: list[str]

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.network.prefix_length}"

    def topology_labels(self) -> list[str]:
        return [f"{REGION_LABEL}={self.cluster}", f"{ZONE_LABEL}={self.spec.node}"]


def _model(model: type[Any], value: object, where: str, problems: list[str]) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            problems.append(f"{where}.{field}: {err['msg']}")
        return None


def node_vms(inventory: Inventory) -> list[NodeVm]:
    """The `proxmox_vms` hosts as VMs; InventoryError names every bad variable."""
    problems: list[str] = []
    vms: list[NodeVm] = []
    ids: dict[int, str] = {}
    for host in inventory.group(VM_GROUP):
        vm = _node_vm(host, problems)
        if vm is None:
            continue
        if vm.spec.vm_id in ids:
            problems.append(
                f"inventory: {host.name}: proxmox_vm.vm_id {vm.spec.vm_id} is "
                f"{ids[vm.spec.vm_id]}'s too"
            )
        ids[vm.spec.vm_id] = host.name
        if vm.spec.vm_id == vm.template.vm_id:
            problems.append(f"inventory: {host.name}: proxmox_vm.vm_id is the template's")
        if not ({"k3s_servers", "k3s_agents"} & host.groups):
            problems.append(
                f"inventory: {host.name} is a k3s node VM but in neither k3s_servers nor k3s_agents"
            )
        vms.append(vm)
    if problems:
        raise InventoryError("\n".join(problems))
    return vms


def _node_vm(host: Host, problems: list[str]) -> NodeVm | None:
    v = host.variables
    where = f"inventory: {host.name}"
    missing = [
        k
        for k in (
            "proxmox_vm",
            "proxmox_cluster_name",
            "proxmox_vm_network",
            "proxmox_vm_template",
            "proxmox_vm_datastore",
        )
        if k not in v
    ]
    if missing:
        problems.append(f"{where}: missing {', '.join(missing)}")
        return None
    spec = _model(VmSpec, v["proxmox_vm"], f"{where}: proxmox_vm", problems)
    network = _model(VmNetwork, v["proxmox_vm_network"], f"{where}: proxmox_vm_network", problems)
    template = _model(
        VmTemplate, v["proxmox_vm_template"], f"{where}: proxmox_vm_template", problems
    )
    try:
        address = str(ipaddress.ip_address(host.address))
    except ValueError:
        problems.append(f"{where}: ansible_host {host.address!r} must be the VM's IP address")
        return None
    keys = v.get("base_admin_authorized_keys") or []
    username = v.get("ansible_user") or v.get("base_admin_user")
    if not username or not keys:
        problems.append(f"{where}: ansible_user and base_admin_authorized_keys are needed")
        return None
    if spec is None or network is None or template is None:
        return None
    return NodeVm(
        host=host.name,
        address=address,
        spec=spec,
        cluster=str(v["proxmox_cluster_name"]),
        network=network,
        template=template,
        datastore=str(v["proxmox_vm_datastore"]),
        username=str(username),
        ssh_keys=[str(k) for k in keys],
    )


def topology_labels(host: Host) -> list[str]:
    """topology.kubernetes.io/{region,zone} for a k3s node that is a Proxmox VM, else []:
    Proxmox CSI finds where a volume can attach by them (its README)."""
    spec = host.variables.get("proxmox_vm")
    cluster = host.variables.get("proxmox_cluster_name")
    if VM_GROUP not in host.groups or not isinstance(spec, dict) or not cluster:
        return []
    return [f"{REGION_LABEL}={cluster}", f"{ZONE_LABEL}={spec.get('node')}"]


# -- resources -----------------------------------------------------------------------------


class BackupSettings(ConfigModel):
    storage: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    """The Proxmox storage vzdump writes to (a PBS or an NFS export on TrueNAS)."""
    schedule: str = "*-*-* 02:30"
    """systemd calendar event (vzdump's schedule format)."""
    mode: str = Field(default="snapshot", pattern=r"^(snapshot|suspend|stop)$")
    keep_daily: int = Field(default=7, ge=0)
    keep_weekly: int = Field(default=4, ge=0)
    keep_monthly: int = Field(default=3, ge=0)

    def prune(self) -> dict[str, str]:
        keep = {
            "keep-daily": self.keep_daily,
            "keep-weekly": self.keep_weekly,
            "keep-monthly": self.keep_monthly,
        }
        return {k: str(v) for k, v in keep.items() if v}


@dataclass(frozen=True)
class ProxmoxVmsArgs:
    vms: Sequence[NodeVm]
    backup: BackupSettings
    cpu_type: str = "x86-64-v2-AES"


class ProxmoxVms(pulumi.ComponentResource):
    """One VM per inventory host, cloned from the template, and the vzdump job for them."""

    vms: dict[str, proxmoxve.VmLegacy]

    def __init__(
        self, name: str, args: ProxmoxVmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:proxmox:ProxmoxVms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.vms = {vm.host: self._vm(name, vm, child) for vm in args.vms}
        if args.vms:
            proxmoxve.backup.Job(
                f"{name}-backup",
                resource_id="lab-k3s-nodes",
                schedule=args.backup.schedule,
                storage=args.backup.storage,
                vmids=[str(vm.spec.vm_id) for vm in args.vms],
                mode=args.backup.mode,
                compress="zstd",
                enabled=True,
                prune_backups=args.backup.prune(),
                # A missed night (host off) is made up at the next start.
                repeat_missed=True,
                notes_template="{{guestname}} (lab-proxmox)",
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.vms.values())),
            )
        self.register_outputs({})

    @staticmethod
    def _vm(name: str, vm: NodeVm, opts: pulumi.ResourceOptions) -> proxmoxve.VmLegacy:
        return proxmoxve.VmLegacy(
            f"{name}-{vm.host}",
            node_name=vm.spec.node,
            vm_id=vm.spec.vm_id,
            name=vm.host,
            description="k3s node of the lab (lab-proxmox stack, from the Ansible inventory)",
            tags=["k3s", "lab"],
            on_boot=True,
            started=True,
            clone=proxmoxve.VmLegacyCloneArgs(
                vm_id=vm.template.vm_id,
                node_name=vm.template.node,
                datastore_id=vm.datastore,
                full=True,
            ),
            agent=proxmoxve.VmLegacyAgentArgs(enabled=True),
            cpu=proxmoxve.VmLegacyCpuArgs(cores=vm.spec.cores, type="x86-64-v2-AES"),
            memory=proxmoxve.VmLegacyMemoryArgs(dedicated=vm.spec.memory_mib),
            # Proxmox CSI attaches volumes as SCSI disks: VirtIO SCSI single
            # (proxmox-csi-plugin docs/install.md).
            scsi_hardware="virtio-scsi-single",
            disks=[
                proxmoxve.VmLegacyDiskArgs(
                    interface="scsi0",
                    datastore_id=vm.datastore,
                    size=vm.spec.disk_gib,
                    discard="on",
                    iothread=True,
                    ssd=True,
                )
            ],
            network_devices=[
                proxmoxve.VmLegacyNetworkDeviceArgs(bridge=vm.network.bridge, model="virtio")
            ],
            operating_system=proxmoxve.VmLegacyOperatingSystemArgs(type="l26"),
            initialization=proxmoxve.VmLegacyInitializationArgs(
                datastore_id=vm.datastore,
                ip_configs=[
                    proxmoxve.VmLegacyInitializationIpConfigArgs(
                        ipv4=proxmoxve.VmLegacyInitializationIpConfigIpv4Args(
                            address=vm.cidr, gateway=vm.network.gateway
                        )
                    )
                ],
                dns=proxmoxve.VmLegacyInitializationDnsArgs(servers=vm.network.dns_servers)
                if vm.network.dns_servers
                else None,
                # Ansible's admin user and the operators' keys, so the play reaches the
                # VM as it reaches every other host.
                user_account=proxmoxve.VmLegacyInitializationUserAccountArgs(
                    username=vm.username, keys=vm.ssh_keys
                ),
            ),
            # k3s drains nothing on a shutdown request it cannot see: stop, do not hang.
            stop_on_destroy=True,
            opts=opts,
        )
