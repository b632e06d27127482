"""Where everything lives and what it is called.

Every name the harness creates starts with ``lh-`` (namespaces, links) or lives under one
of the directories below, so a later run can recognise and remove what a crashed run left.
Addresses are deterministic so the sandbox inventory can name them.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "lh-"
BRIDGE = "lh-br0"
SUBNET = ipaddress.IPv4Network("10.213.0.0/24")
GATEWAY = ipaddress.IPv4Address("10.213.0.1")
FIRST_HOST_OFFSET = 11
PROXY_PORT = 3142
LOGIN_USER = "pi"
MAX_IFNAME = 15

# Hosts the sandbox inventory describes (inventory/sandbox/hosts.yml names the same).
DEFAULT_HOSTS: tuple[str, ...] = ("sbx-pi1", "sbx-lab1")


@dataclass(frozen=True)
class HostSpec:
    """One virtual host: its name, index on the test subnet and the names derived from it."""

    name: str
    index: int

    @property
    def address(self) -> ipaddress.IPv4Address:
        return SUBNET.network_address + FIRST_HOST_OFFSET + self.index

    @property
    def netns(self) -> str:
        return PREFIX + self.name

    @property
    def veth(self) -> str:
        return PREFIX + self.name


def host_specs(names: tuple[str, ...] | list[str]) -> list[HostSpec]:
    """Validate host names and give each its deterministic place on the test subnet."""
    specs = []
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise ValueError(f"host name {name!r} given twice")
        seen.add(name)
        if not name.replace("-", "").isalnum() or not name[0].isalpha() or name != name.lower():
            raise ValueError(f"host name {name!r}: use lower-case letters, digits and '-'")
        if len(PREFIX + name) > MAX_IFNAME:
            raise ValueError(
                f"host name {name!r} is too long: {PREFIX}{name} exceeds {MAX_IFNAME} characters"
            )
        specs.append(HostSpec(name=name, index=index))
    if len(specs) > 200:
        raise ValueError("at most 200 hosts fit the test subnet")
    return specs


@dataclass(frozen=True)
class Layout:
    """Directories the harness owns. Only ``cache`` survives ``labhosts down``."""

    # LABHOSTS_CACHE moves the image cache (the virtual lab benchmark starts from an empty one).
    cache: Path = field(
        default_factory=lambda: Path(os.environ.get("LABHOSTS_CACHE", "/var/cache/labhosts"))
    )
    state: Path = field(default_factory=lambda: Path("/var/lib/labhosts"))
    runtime: Path = field(default_factory=lambda: Path("/run/labhosts"))

    @property
    def images(self) -> Path:
        return self.cache / "images"

    @property
    def ssh_dir(self) -> Path:
        return self.state / "ssh"

    @property
    def ssh_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def hosts_dir(self) -> Path:
        return self.state / "hosts"

    def host_dir(self, name: str) -> Path:
        return self.hosts_dir / name

    def host_root(self, name: str) -> Path:
        return self.host_dir(name) / "root"
