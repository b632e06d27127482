"""The lab-proxmox project (k3s node VMs and their vzdump job) under Pulumi's mocks.

pulumi-proxmoxve's provider plugin is fetched from GitHub at run time and cannot run here,
and there is no Proxmox VE: the program runs under the mocks, and what it records is
checked against the provider's Pulumi schema (vendored, labinfra/schemas/pulumi) and the
installed SDK 8.6.0's input names, the policy pack, and the inventory the cluster stack
reads the same addresses from.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from labinfra.inventory import InventoryError, parse_inventory
from labinfra.offline.harness import ProgramFailedError, Recorded, RunOptions, StackRun, run_project
from labinfra.offline.lab import PROJECTS_DIR, inventory_overrides, run_lab
from labinfra.offline.pulumi_schema import (
    load_schema,
    sdk_class_for,
    sdk_problems,
    sdk_wire_names,
    validate_inputs,
)
from labinfra.offline.validate import check_stack, secret_leaks
from labinfra.proxmox import node_vms
from labpolicies.pack import STACK_POLICIES, pack_violations

FIXTURE = Path(__file__).parent / "fixtures" / "proxmox-hosts.yml"
SCHEMA = load_schema("proxmoxve-8.3.0.json")
SDK = "pulumi_proxmoxve"


def _proxmox(inventory: Path | None = None) -> StackRun:
    overrides = {"inventory": str(inventory)} if inventory else {}
    return run_project(PROJECTS_DIR / "proxmox", "lab", RunOptions(overrides=overrides))


@pytest.fixture(scope="module")
def fixture_run() -> StackRun:
    return _proxmox(FIXTURE)


@pytest.fixture(scope="module")
def example_runs() -> dict[str, StackRun]:
    """The committed stack files on the committed inventory, in deployment order."""
    return run_lab("lab")


def _proxmox_resources(run: StackRun) -> list[Recorded]:
    return [
        r
        for r in run.resources
        if r.type.startswith("proxmoxve:") or r.type == "pulumi:providers:proxmoxve"
    ]


def _problems(resource: Recorded, inputs: dict[str, Any] | None = None) -> list[str]:
    body = dict(resource.inputs) if inputs is None else inputs
    provider = resource.type.startswith("pulumi:providers:")
    return validate_inputs(SCHEMA, resource.type, body, provider=provider) + sdk_problems(
        SCHEMA, resource.type, body, SDK
    )


@pytest.mark.parametrize("which", ["fixture", "example"])
def test_every_input_matches_the_provider_schema_and_the_sdk(
    fixture_run: StackRun, example_runs: dict[str, StackRun], which: str
) -> None:
    run = fixture_run if which == "fixture" else example_runs["proxmox"]
    resources = _proxmox_resources(run)
    assert {r.type for r in resources} == {
        "pulumi:providers:proxmoxve",
        "proxmoxve:index/vmLegacy:VmLegacy",
        "proxmoxve:backup/job:Job",
    }
    for resource in resources:
        assert _problems(resource) == [], resource.name


@pytest.mark.parametrize(
    ("path", "change", "expected"),
    [
        (["vmId"], ("rename", "vmid"), "vmid: unknown input"),
        (["clone", "vmId"], ("rename", "vm_id"), "clone.vm_id: unknown input"),
        (["initialization", "ipConfigs"], ("rename", "ipConfig"), "initialization.ipConfig"),
        (["memory", "dedicated"], ("set", "8 GiB"), "memory.dedicated: expected integer"),
        (["disks"], ("set", {"interface": "scsi0"}), "disks: expected a list"),
        (["nodeName"], ("delete", None), "required input 'nodeName' missing"),
    ],
)
def test_a_wrong_input_is_named(
    fixture_run: StackRun, path: list[str], change: tuple[str, Any], expected: str
) -> None:
    """The checks can fail: typos and wrong types the mocks would pass silently."""
    vm = fixture_run.named("k3s-nodes-vm-a")
    inputs = copy.deepcopy(dict(vm.inputs))
    node = inputs
    for key in path[:-1]:
        node = node[key]
    action, value = change
    if action == "rename":
        node[value] = node.pop(path[-1])
    elif action == "set":
        node[path[-1]] = value
    else:
        del node[path[-1]]
    assert any(expected in p for p in _problems(vm, inputs)), _problems(vm, inputs)


def test_the_vendored_schema_agrees_with_the_pinned_sdk_on_every_input_used(
    fixture_run: StackRun,
) -> None:
    """The schema is 8.3.0's (the newest tag readable here), the SDK 8.6.0: every type the
    program sets has the same properties in both, so their types and required inputs hold."""
    tokens = {"pulumi:providers:proxmoxve"} | {r.type for r in _proxmox_resources(fixture_run)}
    for token in list(tokens):
        resource = SCHEMA.resource(token)
        assert resource is not None
        todo = [resource["inputProperties"]]
        while todo:
            props = todo.pop()
            for spec in props.values():
                ref = spec.get("$ref") or (spec.get("items") or {}).get("$ref")
                if ref and ref.startswith("#/types/"):
                    name = ref.removeprefix("#/types/")
                    if name not in tokens:
                        tokens.add(name)
                        todo.append(SCHEMA.type_(ref).get("properties") or {})
    drift = {}
    for token in sorted(tokens):
        resource = SCHEMA.resource(token)
        props = set(resource["inputProperties"] if resource else SCHEMA.type_(token)["properties"])
        names = sdk_wire_names(*sdk_class_for(token, SDK))
        if props != names:
            drift[token] = (sorted(props - names), sorted(names - props))
    # 8.6.0 added Job.excludes, which the lab does not set; nothing else moved.
    assert drift == {"proxmoxve:backup/job:Job": ([], ["excludes"])}
    assert "excludes" not in fixture_run.named("k3s-nodes-backup").inputs


def test_vms_come_from_the_inventory(fixture_run: StackRun) -> None:
    a = fixture_run.named("k3s-nodes-vm-a").inputs
    b = fixture_run.named("k3s-nodes-vm-b").inputs
    assert (a["nodeName"], a["vmId"], a["name"]) == ("pve1", 301, "vm-a")
    assert (b["nodeName"], b["vmId"]) == ("pve2", 302)
    # Defaults for what the inventory leaves out.
    assert b["cpu"]["cores"] == 2
    assert b["memory"]["dedicated"] == 4096
    ip = a["initialization"]["ipConfigs"][0]["ipv4"]
    assert ip == {"address": "10.0.0.11/24", "gateway": "10.0.0.1"}
    account = a["initialization"]["userAccount"]
    assert account == {"username": "admin", "keys": ["ssh-ed25519 AAAAfixture operator@lab"]}
    assert a["clone"] == {
        "vmId": 9000,
        "nodeName": "pve1",
        "datastoreId": "local-zfs",
        "full": True,
    }
    assert a["scsiHardware"] == "virtio-scsi-single"
    assert fixture_run.outputs["nodes"] == {"vm-a": "10.0.0.11", "vm-b": "10.0.0.12"}


def test_every_vm_is_in_the_backup_job(fixture_run: StackRun) -> None:
    job = fixture_run.named("k3s-nodes-backup")
    assert sorted(job.inputs["vmids"]) == ["301", "302"]
    assert job.inputs["pruneBackups"] == {
        "keep-daily": "7",
        "keep-weekly": "4",
        "keep-monthly": "3",
    }
    assert job.inputs["schedule"] == "*-*-* 02:30"
    for vm in ("k3s-nodes-vm-a", "k3s-nodes-vm-b"):
        assert fixture_run.depends_on(job, fixture_run.named(vm))


def _stack_policy_violations(run: StackRun, drop: str | None = None) -> list[str]:
    from types import SimpleNamespace

    resources = [
        SimpleNamespace(resource_type=r.type, name=r.name, props=dict(r.inputs))
        for r in run.resources
        if r.name != drop
    ]
    found: list[str] = []
    for policy in STACK_POLICIES:
        policy.validate(SimpleNamespace(resources=resources), lambda m, urn=None: found.append(m))  # type: ignore[arg-type]
    return found


def test_the_stack_passes_the_policy_pack(fixture_run: StackRun) -> None:
    assert pack_violations(fixture_run.resources) == []
    assert _stack_policy_violations(fixture_run) == []
    # Without its backup job the VMs are refused.
    missing = _stack_policy_violations(fixture_run, drop="k3s-nodes-backup")
    assert len(missing) == 2
    assert "(vmId 301) is in no enabled backup job" in missing[0]


def test_no_default_provider_and_the_token_stays_secret(fixture_run: StackRun) -> None:
    assert check_stack(fixture_run) == []
    (provider,) = fixture_run.of_type("pulumi:providers:proxmoxve")
    assert "apiToken" in provider.secret_paths
    assert provider.inputs["apiToken"] == "test-secret-apiToken"
    assert secret_leaks(fixture_run, {"apiToken": "test-secret-apiToken"}) == []
    for vm in fixture_run.of_type("proxmoxve:index/vmLegacy:VmLegacy"):
        assert vm.provider.split("::")[-2] == "proxmoxve"


def test_the_cluster_stack_installs_k3s_at_the_vms_addresses(
    example_runs: dict[str, StackRun],
) -> None:
    """The VMs feed the cluster through the inventory: same addresses, and the topology
    labels Proxmox CSI needs, with the region the platform's CSI config names."""
    vms = example_runs["proxmox"].outputs["nodes"]
    assert vms == {"k3s-vm-1": "192.168.50.14"}
    installs = {
        r.name.removeprefix("k3s-").removesuffix("-k3s"): r
        for r in example_runs["cluster"].of_type("command:remote:Command")
        if r.name.endswith("-k3s")
    }
    for host, address in vms.items():
        install = installs[host]
        assert install.inputs["connection"]["host"] == address
        script = install.inputs["create"]
        assert "topology.kubernetes.io/region=lab" in script
        assert "topology.kubernetes.io/zone=pve1" in script
    platform = yaml.safe_load((PROJECTS_DIR / "platform" / "Pulumi.lab.yaml").read_text())
    assert platform["config"]["lab-platform:storage"]["proxmoxCsi"]["region"] == "lab"
    # Hosts that are not VMs get no topology labels.
    pi = installs["k3s-agent-1"].inputs["create"]
    assert "topology.kubernetes.io" not in pi


def test_inventory_mistakes_are_named_and_create_nothing(tmp_path: Path) -> None:
    data = yaml.safe_load(FIXTURE.read_text())
    vms = data["all"]["children"]["proxmox_vms"]["hosts"]
    vms["vm-b"]["proxmox_vm"]["vm_id"] = 301
    vms["vm-d"] = {
        "ansible_host": "10.0.0.14",
        "proxmox_vm": {"node": "pve1", "vm_id": 304, "memory_mib": 100},
    }
    data["all"]["children"]["k3s_cluster"]["children"]["k3s_agents"]["hosts"]["vm-d"] = None
    vms["vm-c"] = {
        "ansible_host": "vm-c.lab.internal",
        "proxmox_vm": {"node": "pve1", "vm_id": 303},
    }
    with pytest.raises(InventoryError) as failed:
        node_vms(parse_inventory(data))
    text = str(failed.value)
    assert "vm-b: proxmox_vm.vm_id 301 is vm-a's too" in text
    assert "vm-d: proxmox_vm.memory_mib: Input should be greater than or equal to 512" in text
    assert "vm-c: ansible_host 'vm-c.lab.internal' must be the VM's IP address" in text
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProgramFailedError) as program:
        _proxmox(path)
    assert program.value.run.resources == []


def test_a_vm_outside_the_cluster_groups_is_refused() -> None:
    data = yaml.safe_load(FIXTURE.read_text())
    data["all"]["children"]["k3s_cluster"]["children"]["k3s_agents"]["hosts"].pop("vm-b")
    with pytest.raises(InventoryError, match="vm-b is a k3s node VM but in neither"):
        node_vms(parse_inventory(data))


def test_render_and_offline_lab_include_the_project() -> None:
    assert "proxmox" in inventory_overrides(FIXTURE)
