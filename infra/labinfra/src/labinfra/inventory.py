"""Reads the Ansible YAML inventory, the single source of truth for the lab's hosts.

Only the parts the Pulumi programs need: hosts, their addresses and variables, and group
membership with children resolved. Anything malformed is refused with one line per problem.

Variables are merged as Ansible merges them (its "variable precedence" documentation, lowest
first): the inventory file's group `vars:`, then `group_vars/all`, then `group_vars/<group>`
(parents before children, then by name), then the inventory file's host variables, then
`host_vars/<host>`. `group_vars/` and `host_vars/` are read beside the inventory file, as
files (`<name>.yml`, `.yaml`, `.json` or no suffix) or folders of such files. Vault-encrypted
files and `!vault` values hold secrets, which no Pulumi program reads from here: they are
skipped (a `!vault` value reads as `VAULTED`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class InventoryError(ValueError):
    """The inventory cannot be used; the message names every problem found."""


VAULTED = "<vaulted>"
"""What an inline `!vault` value reads as (its ciphertext is not decrypted here)."""


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


class _VarsLoader(yaml.SafeLoader):
    """Safe YAML that reads an inline `!vault` value as VAULTED instead of failing."""


_VarsLoader.add_constructor("!vault", lambda loader, node: VAULTED)


def _load_yaml(path: Path, what: str) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError(f"{what}: cannot read {path}: {exc.strerror}") from exc
    if text.startswith("$ANSIBLE_VAULT;"):
        return None
    try:
        return yaml.load(text, Loader=_VarsLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise InventoryError(f"{what}: {path} is not valid YAML: {exc}") from exc


def load_inventory(path: Path) -> Inventory:
    """Read and check the inventory file at `path`, with group_vars/ and host_vars/ beside it."""
    data = _load_yaml(path, "inventory")
    return parse_inventory(data, source=str(path), variables_dir=path.parent)


def _vars_files(folder: Path, name: str) -> list[Path]:
    """Ansible's variable files for `name` in `folder`: a file, or a folder of files."""
    found = [folder / f"{name}{suffix}" for suffix in ("", ".yml", ".yaml", ".json")]
    files = [p for p in found if p.is_file()]
    directory = folder / name
    if directory.is_dir():
        files += sorted(
            p
            for p in directory.rglob("*")
            if p.is_file() and p.suffix in ("", ".yml", ".yaml", ".json")
        )
    return files


def _read_vars(folder: Path | None, name: str, problems: list[str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if folder is None or not folder.is_dir():
        return merged
    for path in _vars_files(folder, name):
        try:
            data = _load_yaml(path, "inventory variables")
        except InventoryError as exc:
            problems.append(str(exc))
            continue
        if data is None:
            continue
        if not isinstance(data, dict):
            problems.append(f"{path}: expected a mapping of variables")
            continue
        merged.update(data)
    return merged


def parse_inventory(
    data: object, *, source: str = "inventory", variables_dir: Path | None = None
) -> Inventory:
    """Build an Inventory from the parsed YAML document.

    `variables_dir` is where `group_vars/` and `host_vars/` are looked for (the inventory
    file's folder); None reads the document's own variables only.
    """
    if not isinstance(data, dict):
        raise InventoryError(f"{source}: expected a mapping of groups at the top level")
    problems: list[str] = []
    host_vars: dict[str, dict[str, Any]] = {}
    group_vars: dict[str, dict[str, Any]] = {}
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
        inline = body.get("vars")
        if inline is not None and not isinstance(inline, dict):
            problems.append(f"{where}.vars: expected a mapping of variables")
        elif inline:
            group_vars.setdefault(name, {}).update(inline)
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
    order = _group_order(direct, children)
    group_folder = variables_dir / "group_vars" if variables_dir else None
    host_folder = variables_dir / "host_vars" if variables_dir else None
    group_files = {g: _read_vars(group_folder, g, problems) for g in ["all", *order]}
    for name, inline_vars in host_vars.items():
        member_of = frozenset(g for g, members in resolved.items() if name in members)
        ordered = [g for g in order if g in member_of]
        merged: dict[str, Any] = {}
        for group in ["all", *ordered]:
            merged.update(group_vars.get(group, {}))
        for group in ["all", *ordered]:
            merged.update(group_files.get(group, {}))
        merged.update(inline_vars)
        merged.update(_read_vars(host_folder, name, problems))
        address = merged.get("ansible_host")
        if not isinstance(address, str) or not address.strip():
            problems.append(f"{source}: host {name!r} has no ansible_host")
            continue
        hosts[name] = Host(name=name, address=address.strip(), groups=member_of, variables=merged)
    if problems:
        raise InventoryError("\n".join(problems))
    return Inventory(hosts=hosts, groups={g: tuple(m) for g, m in resolved.items()})


def _group_order(direct: Mapping[str, list[str]], children: Mapping[str, list[str]]) -> list[str]:
    """Groups as Ansible merges their variables: by depth (parents first), then by name."""
    parents: dict[str, set[str]] = {g: set() for g in direct}
    for parent, kids in children.items():
        for kid in kids:
            parents.setdefault(kid, set()).add(parent)

    def depth(group: str, seen: frozenset[str]) -> int:
        if group == "all" or group in seen:
            return 0
        above = [depth(p, seen | {group}) for p in parents.get(group, set())]
        return 1 + max(above, default=0)

    return sorted((g for g in direct if g != "all"), key=lambda g: (depth(g, frozenset()), g))


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
