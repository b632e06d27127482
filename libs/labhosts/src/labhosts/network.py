"""The test network: one bridge on this machine, one namespace and veth per host.

All hosts share the bridge's /24, so they reach each other and the apt proxy on the
bridge address without this machine forwarding anything: no route leads out.
"""

from __future__ import annotations

from pathlib import Path

from labhosts.layout import BRIDGE, GATEWAY, PREFIX, SUBNET, HostSpec
from labhosts.system import run


def create_bridge() -> None:
    run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "addr", "add", f"{GATEWAY}/{SUBNET.prefixlen}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def create_host_network(host: HostSpec) -> None:
    run(["ip", "netns", "add", host.netns])
    run(
        [
            "ip",
            "link",
            "add",
            host.veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            host.netns,
        ]
    )
    run(["ip", "link", "set", host.veth, "master", BRIDGE, "up"])
    inside = ["ip", "-n", host.netns]
    run([*inside, "addr", "add", f"{host.address}/{SUBNET.prefixlen}", "dev", "eth0"])
    run([*inside, "link", "set", "eth0", "up"])
    run([*inside, "link", "set", "lo", "up"])


def our_namespaces() -> list[str]:
    netns = Path("/run/netns")
    if not netns.is_dir():
        return []
    return sorted(p.name for p in netns.iterdir() if p.name.startswith(PREFIX))


def our_links() -> list[str]:
    names = []
    for line in run(["ip", "-o", "link", "show"]).stdout.splitlines():
        name = line.split(":", 2)[1].strip().split("@", 1)[0]
        if name.startswith(PREFIX):
            names.append(name)
    return names


def pids_in(netns: str) -> list[int]:
    done = run(["ip", "netns", "pids", netns], check=False)
    return [int(pid) for pid in done.stdout.split()]


def delete_namespace(netns: str) -> None:
    run(["ip", "netns", "del", netns], check=False)


def delete_link(name: str) -> None:
    run(["ip", "link", "del", name], check=False)
