"""Preflight: bad inventories are refused with a clear message before any host is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from labhosts.playbooks import find_workspace, prepare_controller, run_playbook

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent / "fixtures" / "preflight"
CASES = {
    "duplicate_hostname": "preflight: duplicate hostname or address: pi-a is 'pi-dome'",
    "device_without_hardware": (
        "preflight: device app on a host without its hardware group: lab-pc is in "
        "dome_controllers but not in pis"
    ),
    "missing_secret": "preflight: missing secret for lab-pc: vault_daq_api_token",
    "placeholder_ssh_key": (
        "preflight: pi-a: base_admin_authorized_keys must list the operators' public keys "
        "(password login is switched off), but ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKey"
    ),
    "host_in_no_zone": "preflight: security zones: printer is in no zone",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_inventory_is_rejected_before_any_host_is_contacted(case: str) -> None:
    root = find_workspace(Path(__file__).parent)
    run = run_playbook(root, "playbooks/site.yml", inventory=str(FIXTURES / f"{case}.yml"))
    assert run.returncode != 0
    assert CASES[case] in run.output, run.output[-3000:]
    # Nothing ran on a host: no facts gathered, no play after the preflight started.
    assert "Gathering Facts" not in run.output
    assert "PLAY [Base system" not in run.output


def test_the_sandbox_inventory_passes_preflight() -> None:
    root = find_workspace(Path(__file__).parent)
    prepare_controller(root, [])  # the sandbox vault holds the secrets preflight asks for
    run = run_playbook(root, "playbooks/preflight.yml")
    assert run.returncode == 0, run.output[-3000:]
    assert run.recap(), run.output[-3000:]
