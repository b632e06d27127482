"""Rules for the Proxmox VE resources (pulumi-proxmoxve): every VM is backed up.

Pure functions of (resource type, camelCase properties), like labpolicies.rules; the
stack rule sees every resource of the stack at once, because a VM and the vzdump job
that covers it are separate resources.
"""

from __future__ import annotations

from collections.abc import Sequence

from labpolicies.workloads import Props

VM_TYPES = (
    "proxmoxve:index/vmLegacy:VmLegacy",
    "proxmoxve:index/vm:Vm",
    "proxmoxve:cloned/vm:Vm",
    "proxmoxve:cloned/vmLegacy:VmLegacy",
)
BACKUP_JOB = "proxmoxve:backup/job:Job"


def _vm_id(props: Props) -> str | None:
    value = props.get("vmId")
    if value is None:
        value = props.get("resourceId")
    return None if value is None else str(value).removesuffix(".0")


def _truthy(value: object) -> bool:
    return value is True or value == "true"


def vms_backed_up(resources: Sequence[tuple[str, str, Props]]) -> list[str]:
    """(type, name, props) of a whole stack -> one message per VM no enabled job backs up.

    A job covers a VM if it names its id in `vmids`, or backs up `all` guests (of every
    node, or of the VM's `node`). A VM without a fixed id cannot be named by a job.
    """
    jobs = [props for typ, _, props in resources if typ == BACKUP_JOB]
    problems = []
    for typ, name, props in resources:
        if typ not in VM_TYPES or _truthy(props.get("template")):
            continue
        vm_id = _vm_id(props)
        if vm_id is None:
            problems.append(f"VM {name!r} has no fixed vmId, so no backup job can name it")
            continue
        node = props.get("nodeName")
        covered = any(
            job.get("enabled", True) not in (False, "false")
            and (
                vm_id in {str(v) for v in job.get("vmids") or []}
                or (_truthy(job.get("all")) and job.get("node") in (None, "", node))
            )
            for job in jobs
        )
        if not covered:
            problems.append(f"VM {name!r} (vmId {vm_id}) is in no enabled backup job")
    return problems


def backup_retention(resource_type: str, props: Props) -> list[str]:
    """A vzdump job keeps a bounded, named set of backups and runs on a schedule."""
    if resource_type != BACKUP_JOB:
        return []
    problems = []
    prune = props.get("pruneBackups") or {}
    if not any(key.startswith("keep-") and str(v) not in ("", "0") for key, v in prune.items()):
        problems.append("backup job has no retention (pruneBackups keep-*)")
    if not props.get("schedule"):
        problems.append("backup job has no schedule")
    return problems
