"""The lab-proxmox stack's VMs and backup job, as Proxmox VE API calls, against PVE's own
API schema.

No Proxmox VE runs here, and the provider plugin cannot be downloaded, so the calls are
not made by pulumi-proxmoxve. Instead the recorded inputs of the stack (under Pulumi's
mocks) are turned into the API requests the provider documents it makes for them
(bpg/terraform-provider-proxmox v0.111.1 docs/resources/virtual_environment_vm.md and
backup_job.md: clone from the template, then the config, the disk resize, and
/cluster/backup), and every parameter is checked against the PVE API schema that fakepve
vendors (its data/pve-api.json.gz, the apidoc of the PVE API viewer, fetched 2026-10-19)
with fakepve's validator, in fakepve's own environment. It proves the values the program
sends (SCSI controller, CPU type, cloud-init ip config, net device, storage and node names,
schedule, prune-backups) are ones Proxmox accepts; it cannot prove the provider's own
translation.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from envs import ensure_env

from labinfra.offline.harness import RunOptions, StackRun, run_project
from labinfra.offline.lab import PROJECTS_DIR

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

VALIDATOR = """
import json, sys
from fakepve import schema
api = schema.load()
out = []
for call in json.load(sys.stdin):
    spec = api.paths[call["path"]][call["method"]].get("parameters")
    out.append(schema.validate(spec, call["params"])[1])
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def pve_env() -> Path:
    return ensure_env("pve")


@pytest.fixture(scope="module")
def run() -> StackRun:
    return run_project(PROJECTS_DIR / "proxmox", "lab", RunOptions())


def _validate(pve_env: Path, calls: list[dict[str, Any]]) -> list[dict[str, str]]:
    result = subprocess.run(
        [str(pve_env / "bin" / "python"), "-c", VALIDATOR],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        check=True,
    )
    errors: list[dict[str, str]] = json.loads(result.stdout)
    return errors


def _flag(value: bool) -> str:
    return "1" if value else "0"


def vm_calls(vm: dict[str, Any]) -> list[dict[str, Any]]:
    """The requests for one VmLegacy with a clone block (provider docs, v0.111.1)."""
    node, vmid = vm["nodeName"], str(vm["vmId"])
    clone = vm["clone"]
    init = vm["initialization"]
    (ip,) = init["ipConfigs"]
    (disk,) = vm["disks"]
    (net,) = vm["networkDevices"]
    account = init["userAccount"]
    config = {
        "node": node,
        "vmid": vmid,
        "name": vm["name"],
        "description": vm["description"],
        "tags": ";".join(vm["tags"]),
        "onboot": _flag(vm["onBoot"]),
        "agent": f"enabled={_flag(vm['agent']['enabled'])}",
        "cores": str(vm["cpu"]["cores"]),
        "cpu": vm["cpu"]["type"],
        "memory": str(vm["memory"]["dedicated"]),
        "scsihw": vm["scsiHardware"],
        "ostype": vm["operatingSystem"]["type"],
        "net0": f"{net['model']},bridge={net['bridge']}",
        "ipconfig0": f"ip={ip['ipv4']['address']},gw={ip['ipv4']['gateway']}",
        "nameserver": " ".join(init["dns"]["servers"]),
        "ciuser": account["username"],
        # PVE wants the keys URL-encoded (the API viewer's sshkeys description).
        "sshkeys": urllib.parse.quote("\n".join(account["keys"]), safe=""),
        "ide2": f"{init['datastoreId']}:cloudinit",
        "scsi0": (
            f"{disk['datastoreId']}:vm-{vmid}-disk-0,discard={disk['discard']},"
            f"iothread={_flag(disk['iothread'])},ssd={_flag(disk['ssd'])}"
        ),
    }
    return [
        {
            "path": "/nodes/{node}/qemu/{vmid}/clone",
            "method": "POST",
            "params": {
                "node": clone["nodeName"],
                "vmid": str(clone["vmId"]),
                "newid": vmid,
                "name": vm["name"],
                "full": _flag(clone["full"]),
                "storage": clone["datastoreId"],
                "target": node,
            },
        },
        {"path": "/nodes/{node}/qemu/{vmid}/config", "method": "POST", "params": config},
        {
            "path": "/nodes/{node}/qemu/{vmid}/resize",
            "method": "PUT",
            "params": {
                "node": node,
                "vmid": vmid,
                "disk": disk["interface"],
                "size": f"{disk['size']}G",
            },
        },
        {
            "path": "/nodes/{node}/qemu/{vmid}/status/start",
            "method": "POST",
            "params": {"node": node, "vmid": vmid},
        },
    ]


def job_call(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": "/cluster/backup",
        "method": "POST",
        "params": {
            "id": job["resourceId"],
            "schedule": job["schedule"],
            "storage": job["storage"],
            "vmid": ",".join(job["vmids"]),
            "mode": job["mode"],
            "compress": job["compress"],
            "enabled": _flag(job["enabled"]),
            "prune-backups": ",".join(f"{k}={v}" for k, v in sorted(job["pruneBackups"].items())),
            "repeat-missed": _flag(job["repeatMissed"]),
            "notes-template": job["notesTemplate"],
        },
    }


def test_every_call_passes_the_pve_api_schema(pve_env: Path, run: StackRun) -> None:
    vms = [dict(r.inputs) for r in run.of_type("proxmoxve:index/vmLegacy:VmLegacy")]
    (job,) = [dict(r.inputs) for r in run.of_type("proxmoxve:backup/job:Job")]
    assert vms
    calls = [call for vm in vms for call in vm_calls(vm)] + [job_call(job)]
    errors = _validate(pve_env, calls)
    assert [(c["path"], e) for c, e in zip(calls, errors, strict=True) if e] == []


@pytest.mark.parametrize(
    ("path", "field", "value", "wording"),
    [
        ("/nodes/{node}/qemu/{vmid}/config", "scsihw", "virtio-scsi-fast", "enumeration"),
        (
            "/nodes/{node}/qemu/{vmid}/config",
            "ipconfig0",
            "ip=192.168.50.14,gw=192.168.50.1",
            "ipv4",
        ),
        ("/cluster/backup", "mode", "pause", "enumeration"),
        ("/cluster/backup", "vmid", "k3s-vm-1", "format"),
    ],
)
def test_the_schema_refuses_a_wrong_value(
    pve_env: Path, run: StackRun, path: str, field: str, value: str, wording: str
) -> None:
    vm = dict(run.of_type("proxmoxve:index/vmLegacy:VmLegacy")[0].inputs)
    (job,) = [dict(r.inputs) for r in run.of_type("proxmoxve:backup/job:Job")]
    call = next(c for c in [*vm_calls(vm), job_call(job)] if c["path"] == path)
    call["params"][field] = value
    (errors,) = _validate(pve_env, [call])
    assert field in errors
    assert wording in errors[field]
