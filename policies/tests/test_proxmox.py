"""The Proxmox rules: every VM in a backup job (a stack policy) and vzdump retention,
through pulumi-policy's own StackValidationPolicy API."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from labpolicies.pack import STACK_POLICIES
from labpolicies.proxmox import BACKUP_JOB, vms_backed_up

VM = "proxmoxve:index/vmLegacy:VmLegacy"


def _vm(
    name: str, vm_id: int | None, node: str = "pve1", **extra: Any
) -> tuple[str, str, dict[str, Any]]:
    props: dict[str, Any] = {"nodeName": node, **extra}
    if vm_id is not None:
        props["vmId"] = vm_id
    return VM, name, props


def _job(**props: Any) -> tuple[str, str, dict[str, Any]]:
    return BACKUP_JOB, "backup", {"schedule": "*-*-* 02:30", "storage": "s", **props}


def test_a_vm_named_by_a_job_is_covered() -> None:
    assert vms_backed_up([_vm("a", 211), _job(vmids=["211"])]) == []


def test_all_guests_of_the_node_or_cluster_cover_it() -> None:
    assert vms_backed_up([_vm("a", 211), _job(all=True)]) == []
    assert vms_backed_up([_vm("a", 211), _job(all=True, node="pve1")]) == []
    assert vms_backed_up([_vm("a", 211), _job(all=True, node="pve2")]) != []


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ([_vm("a", 211)], "(vmId 211) is in no enabled backup job"),
        ([_vm("a", 211), _job(vmids=["212"])], "(vmId 211) is in no enabled backup job"),
        ([_vm("a", 211), _job(vmids=["211"], enabled=False)], "in no enabled backup job"),
        ([_vm("a", None), _job(all=True)], "has no fixed vmId"),
    ],
)
def test_an_unbacked_vm_is_named(resources: list[Any], message: str) -> None:
    (problem,) = vms_backed_up(resources)
    assert message in problem


def test_templates_are_not_required_to_be_backed_up() -> None:
    assert vms_backed_up([_vm("t", 9000, template=True)]) == []


def test_the_stack_policy_reports_through_pulumi_policy() -> None:
    (policy,) = STACK_POLICIES
    resources = [
        SimpleNamespace(resource_type=t, name=n, props=p)
        for t, n, p in [_vm("a", 211), _vm("b", 212), _job(vmids=["211"])]
    ]
    reported: list[str] = []
    policy.validate(SimpleNamespace(resources=resources), lambda m, urn=None: reported.append(m))  # type: ignore[arg-type]
    assert reported == ["VM 'b' (vmId 212) is in no enabled backup job"]
