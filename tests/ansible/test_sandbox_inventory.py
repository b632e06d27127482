"""The sandbox inventory and the virtual-host harness must agree on names and addresses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from labhosts import DEFAULT_HOSTS
from labhosts.layout import host_specs

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_GROUPS = {
    "k3s_cluster",
    "k3s_servers",
    "k3s_agents",
    "pis",
    "dome_controllers",
    "picotemp_exporters",
    "lab_pcs",
}


def walk(group: dict[str, Any], name: str, out: dict[str, dict[str, Any]]) -> None:
    out.setdefault(name, {})
    for host, hostvars in (group.get("hosts") or {}).items():
        out[name][host] = hostvars or {}
    for child, sub in (group.get("children") or {}).items():
        walk(sub or {}, child, out)


def groups_of(env: str) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((ROOT / "inventory" / env / "hosts.yml").read_text())
    out: dict[str, dict[str, Any]] = {}
    walk(data["all"], "all", out)
    return out


def test_sandbox_hosts_are_the_harness_hosts() -> None:
    addresses = {}
    for hosts in groups_of("sandbox").values():
        for host, hostvars in hosts.items():
            if "ansible_host" in hostvars:
                addresses[host] = hostvars["ansible_host"]
    assert addresses == {spec.name: str(spec.address) for spec in host_specs(DEFAULT_HOSTS)}


def test_both_environments_have_the_agreed_groups_and_addresses() -> None:
    for env in ("sandbox", "production"):
        groups = groups_of(env)
        assert set(groups) >= REQUIRED_GROUPS, (env, REQUIRED_GROUPS - set(groups))
        every = {h for hosts in groups.values() for h in hosts}
        with_address = {
            h for hosts in groups.values() for h, v in hosts.items() if "ansible_host" in v
        }
        assert every == with_address, (env, every - with_address)


def test_sandbox_is_simulated_and_production_is_real() -> None:
    sandbox = yaml.safe_load((ROOT / "inventory/sandbox/group_vars/all/main.yml").read_text())
    production = yaml.safe_load((ROOT / "inventory/production/group_vars/all/main.yml").read_text())
    assert sandbox["hardware"] == "sim"
    assert production["hardware"] == "real"


def test_vault_examples_show_every_secret_the_inventory_uses() -> None:
    for env in ("sandbox", "production"):
        example = ROOT / "inventory" / env / "group_vars/all/vault.yml.example"
        keys = set(yaml.safe_load(example.read_text()))
        used = set()
        for path in (ROOT / "inventory" / env).rglob("*.yml"):
            if path.name != "vault.yml":
                used |= set(re.findall(r"\bvault_\w+", path.read_text()))
        assert used <= keys, (env, used - keys)
