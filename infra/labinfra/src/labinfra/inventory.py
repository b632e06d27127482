"""Reads the Ansible YAML inventory, the single source of truth for the lab's hosts.

Only the parts the Pulumi programs need: hosts, their addresses and variables, and group
membership with children resolved. Anything malformed is refused with one line per problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class InventoryError(ValueError):
    """The inventory cannot be used; the message names every problem found."""


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    groups: frozenset[str]
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inventory:
    hosts: Mapping[str, Host]
    groups: Mapping[str, tuple[str, ...]]
    """Group name -> host names (children resolved), in inventory order."""

    def group(self, name: str) -> list[Host]:
        """Hosts of a group; an unknown group is an empty list (groups may be absent)."""
        return [self.hosts[h] for h in self.groups.get(name, ())]

    def require_group(self, name: str) -> list[Host]:
        hosts = self.group(name)
        if not hosts:
            raise InventoryError(f"inventory: group {name!r} has no hosts")
        return hosts


def load_inventory(path: Path) -> Inventory:
    """Read and check the inventory file at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError(f"inventory: cannot read {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InventoryError(f"inventory: {path} is not valid YAML: {exc}") from exc
    return parse_inventory(data, source=str(path))


def parse_inventory(data: object, *, source: str = "inventory") -> Inventory:
    """Build an Inventory from the parsed YAML document."""
    if not isinstance(data, dict):
        raise InventoryError(f"{source}: expected a mapping of groups at the top level")
    problems: list[str] = []
    host_vars: dict[str, dict[str, Any]] = {}
    direct: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}

    def walk(name: str, body: object, where: str) -> None:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            problems.append(f"{where}: expected a mapping")
            return
        unknown = set(body) - {"hosts", "children", "vars"}
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        direct.setdefault(name, [])
        children.setdefault(name, [])
        for host, hvars in (body.get("hosts") or {}).items():
            if hvars is not None and not isinstance(hvars, dict):
                problems.append(f"{where}.hosts.{host}: expected a mapping of variables")
                continue
            merged = host_vars.setdefault(str(host), {})
            merged.update(hvars or {})
            direct[name].append(str(host))
        for child, child_body in (body.get("children") or {}).items():
            children[name].append(str(child))
            walk(str(child), child_body, f"{where}.children.{child}")

    for group, body in data.items():
        walk(str(group), body, f"{source}: {group}")

    hosts: dict[str, Host] = {}
    resolved = {g: _resolve(g, direct, children, problems, ()) for g in direct}
    for name, hvars in host_vars.items():
        address = hvars.get("ansible_host")
        if not isinstance(address, str) or not address.strip():
            problems.append(f"{source}: host {name!r} has no ansible_host")
            continue
        member_of = frozenset(g for g, members in resolved.items() if name in members)
        hosts[name] = Host(name=name, address=address.strip(), groups=member_of, variables=hvars)
    if problems:
        raise InventoryError("\n".join(problems))
    return Inventory(hosts=hosts, groups={g: tuple(m) for g, m in resolved.items()})


def _resolve(
    group: str,
    direct: Mapping[str, list[str]],
    children: Mapping[str, list[str]],
    problems: list[str],
    seen: tuple[str, ...],
) -> list[str]:
    if group in seen:
        problems.append(f"inventory: group cycle {' -> '.join((*seen, group))}")
        return []
    members = list(direct.get(group, []))
    for child in children.get(group, []):
        for host in _resolve(child, direct, children, problems, (*seen, group)):
            if host not in members:
                members.append(host)
    return members
