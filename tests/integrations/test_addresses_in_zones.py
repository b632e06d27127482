"""The integrations' addresses agree with the lab's security zones (issue 15).

The zones (inventory/production/group_vars/all/zones.yml) put the home network, with Home
Assistant and Proxmox VE's API, in `external`, and TrueNAS in `storage`; the lab's own
hosts, the k3s node VMs among them, live in `lab`. The example stacks
(infra/projects/*/Pulumi.lab.yaml) give the addresses the NetworkPolicies and allow-lists
are built from. Everything is read with the loaders the programs themselves use: the
offline harness's stack-file loader and the projects' config models, labinfra.inventory,
and the firewall role's own filter plugin for the zones and each host's nftables plan.
The NetworkPolicies checked are the ones the platform stack records when it runs under
Pulumi's mocks (no cluster runs here) with the production inventory.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from labinfra.inventory import Inventory, load_inventory
from labinfra.monitoring.integrations import Integrations
from labinfra.netpol import POLICY_NAME
from labinfra.offline.harness import StackRun, load_stack_config
from labinfra.offline.lab import PROJECTS_DIR, run_lab
from labinfra.projects.apps import AppsConfig
from labinfra.proxmox import node_vms
from labinfra.storage import StorageSettings

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventory" / "production" / "hosts.yml"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Which zone holds each integration, found by what the zone's description says it holds
# (the description is the lab's word; the zone names are asserted too).
HOLDERS = {
    "homeAssistant": ("Home Assistant", "external"),
    "proxmox": ("Proxmox VE's API", "external"),
    "truenas": ("TrueNAS", "storage"),
}
NAMESPACE = {"homeAssistant": "home-assistant", "proxmox": "proxmox", "truenas": "truenas"}


def _load_firewall_plugin() -> ModuleType:
    path = ROOT / "roles" / "firewall" / "filter_plugins" / "firewall_zones.py"
    spec = importlib.util.spec_from_file_location("firewall_zones", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fz = _load_firewall_plugin()


@cache
def inventory() -> Inventory:
    return load_inventory(INVENTORY)


def _zone_definitions() -> tuple[Any, Any, Any]:
    """lab_zones, lab_sources, lab_services as every host sees them (group_vars/all)."""
    variables = next(iter(inventory().hosts.values())).variables
    return variables["lab_zones"], variables["lab_sources"], variables["lab_services"]


@cache
def zones() -> dict[str, Any]:
    model = fz.read_model(*_zone_definitions())
    assert model.problems == []
    return dict(model.zones)


def descriptions() -> dict[str, str]:
    return {name: str(body.get("description", "")) for name, body in _zone_definitions()[0].items()}


def zone_holding(integration: str) -> str:
    phrase, expected = HOLDERS[integration]
    holders = [name for name, text in descriptions().items() if phrase in " ".join(text.split())]
    assert holders == [expected], f"zones whose description names {phrase!r}: {holders}"
    return expected


def inside(network: Network, zone: str) -> bool:
    return any(
        network.version == owned.version and network.subnet_of(owned)
        for owned in zones()[zone].networks
    )


def zone_of(network: Network) -> list[str]:
    """Every zone whose networks overlap `network`."""
    return [
        name
        for name, zone in zones().items()
        if any(network.version == n.version and network.overlaps(n) for n in zone.networks)
    ]


def host_network(host: str) -> Network:
    return ipaddress.ip_network(host)


@cache
def project_config(folder: str) -> dict[str, Any]:
    """The project's own keys of its `lab` stack file (not `pulumi:` ones)."""
    project, config = load_stack_config(PROJECTS_DIR / folder, "lab")
    prefix = f"{project}:"
    return {k.removeprefix(prefix): v for k, v in config.items() if k.startswith(prefix)}


def platform_config() -> dict[str, Any]:
    return project_config("platform")


def integrations() -> Integrations:
    return Integrations.model_validate(platform_config()["integrations"])


def integration_networks() -> dict[str, list[Network]]:
    configured = integrations().configured()
    found = {
        key: [ipaddress.ip_network(c) for c in configured[NAMESPACE[key]].network_cidrs()]
        for key in HOLDERS
        if NAMESPACE[key] in configured
    }
    assert set(found) == set(HOLDERS), f"the example stack configures {sorted(found)}"
    return found


@pytest.mark.parametrize("integration", sorted(HOLDERS))
def test_each_integration_lies_in_the_zone_that_holds_it(integration: str) -> None:
    zone = zone_holding(integration)
    for network in integration_networks()[integration]:
        assert inside(network, zone), (
            f"integrations.{integration}.cidrs {network} is outside zone {zone!r} "
            f"({', '.join(map(str, zones()[zone].networks))})"
        )
        assert zone_of(network) == [zone], (integration, str(network), zone_of(network))


def test_truenas_storage_backends_are_on_the_storage_network() -> None:
    """democratic-csi's NFS share and iSCSI portal: TrueNAS on the storage network."""
    settings = StorageSettings.model_validate(platform_config()["storage"])
    truenas = settings.truenas
    assert truenas is not None
    assert truenas.nfs is not None
    assert truenas.iscsi is not None
    storage = zone_holding("truenas")
    truenas_networks = integration_networks()["truenas"]
    nfs_host = host_network(truenas.nfs.share_host)
    portal = host_network(truenas.iscsi.target_portal.rsplit(":", 1)[0])
    for address in (nfs_host, portal):
        assert inside(address, storage), address
        assert any(address.subnet_of(n) for n in truenas_networks), (address, truenas_networks)
    assert truenas.nfs.allowed_networks, "the NFS share must name its clients"
    for allowed in truenas.nfs.allowed_networks:
        assert inside(ipaddress.ip_network(allowed), storage), allowed


def test_the_k3s_node_vms_and_the_pico_are_in_the_lab_zone() -> None:
    """Proxmox's API is external, but the k3s node VMs it runs are lab hosts: their
    addresses, gateway and DNS; and the Pico W the apps stack's exporter reads."""
    vms = node_vms(inventory())
    assert vms, "the production inventory has k3s node VMs"
    for vm in vms:
        network = ipaddress.ip_interface(vm.cidr).network
        assert zone_of(network) == ["lab"], (vm.host, vm.cidr)
        for address in (vm.address, vm.network.gateway, *vm.network.dns_servers):
            assert inside(host_network(address), "lab"), (vm.host, address)
    apps = AppsConfig.model_validate(project_config("apps"))
    assert apps.picotemp_exporters
    for exporter in apps.picotemp_exporters:
        host = urlsplit(exporter.server_url).hostname
        assert host is not None
        assert inside(host_network(host), "lab"), exporter.server_url


@pytest.fixture(scope="module")
def lab_runs() -> dict[str, StackRun]:
    """The example stacks with the production inventory they name (under mocks)."""
    return run_lab("lab")


def _objects(runs: dict[str, StackRun], kind: str) -> list[dict[str, Any]]:
    return [
        dict(r.inputs)
        for run in runs.values()
        for r in run.kubernetes_objects()
        if r.inputs["kind"] == kind
    ]


def test_the_network_policies_reach_exactly_the_zoned_addresses(
    lab_runs: dict[str, StackRun],
) -> None:
    """The monitoring namespace's allow rules name only addresses of the integrations'
    zones, each integration's on its own API ports; what every namespace is kept from is
    exactly the integrations' addresses, none of them in the lab zone."""
    policies = [
        p for p in _objects(lab_runs, "NetworkPolicy") if p["metadata"]["name"] == POLICY_NAME
    ]
    assert policies
    configured = integrations().configured()
    expected = {str(n) for nets in integration_networks().values() for n in nets}
    for policy in policies:
        blocks = [
            peer["ipBlock"]
            for rule in policy["spec"]["egress"]
            for peer in rule.get("to") or []
            if "ipBlock" in peer
        ]
        kept_from = {c for b in blocks if "except" in b for c in b["except"]}
        assert kept_from == expected, policy["metadata"]["namespace"]
        for cidr in kept_from:
            assert "lab" not in zone_of(ipaddress.ip_network(cidr)), cidr
    (monitoring,) = [p for p in policies if p["metadata"]["namespace"] == "monitoring"]
    allows = [
        (ipaddress.ip_network(peer["ipBlock"]["cidr"]), {p["port"] for p in rule["ports"]})
        for rule in monitoring["spec"]["egress"]
        if rule.get("ports")
        for peer in rule["to"]
    ]
    for key, networks in integration_networks().items():
        zone = zone_holding(key)
        ports = {port for _, port in configured[NAMESPACE[key]].endpoints()}
        for network in networks:
            assert (network, ports) in allows, (key, str(network), allows)
            assert inside(network, zone)
    for network, _ in allows:
        assert any(network in nets for nets in integration_networks().values()), network
    # TrueNAS pushes Graphite to the ingest Service, which admits only TrueNAS's addresses.
    (ingest,) = [
        s
        for s in _objects(lab_runs, "Service")
        if s["spec"].get("loadBalancerSourceRanges") is not None
    ]
    for cidr in ingest["spec"]["loadBalancerSourceRanges"]:
        assert inside(ipaddress.ip_network(cidr), zone_holding("truenas")), cidr


def test_no_lab_host_firewall_admits_an_integration() -> None:
    """`external` and `storage`: nothing in the lab is open to them. Each lab host's
    nftables plan (the firewall role's own filter) must not admit any integration's
    address, which it would if an integration sat inside the lab's networks."""
    inv = inventory()
    zone_defs, sources, services = _zone_definitions()
    groups = {name: list(members) for name, members in inv.groups.items()} | {
        "all": list(inv.hosts)
    }
    hostvars = {name: dict(host.variables) for name, host in inv.hosts.items()}
    addresses = [n for nets in integration_networks().values() for n in nets]
    for host in sorted(inv.hosts):
        plan = fz.firewall_host_plan(host, zone_defs, sources, services, groups, hostvars)
        for named in plan["sets"]:
            for element in named["elements"]:
                admitted = ipaddress.ip_network(element)
                for address in addresses:
                    assert not (
                        admitted.version == address.version and admitted.overlaps(address)
                    ), f"{host}'s set {named['name']} ({admitted}) admits integration {address}"


def _ports(dport: str) -> list[tuple[int, int]]:
    """The firewall plan's dport text (`8470`, `2379-2380`, `{ 22, 9100 }`) as ranges."""
    ranges = []
    for item in dport.strip("{} ").split(","):
        low, _, high = item.strip().partition("-")
        ranges.append((int(low), int(high or low)))
    return ranges


def _admitted(plan: dict[str, Any], address: str, port: int) -> bool:
    """Whether a host's nftables plan accepts a TCP connection from `address` to `port`
    (its input policy drops everything else)."""
    ip = ipaddress.ip_address(address)
    sets = {s["name"]: [ipaddress.ip_network(e) for e in s["elements"]] for s in plan["sets"]}
    for rule in plan["rules"]:
        if rule["protocol"] not in ("tcp", "any"):
            continue
        if rule["dport"] and not any(a <= port <= b for a, b in _ports(rule["dport"])):
            continue
        if any(ip.version == n.version and ip in n for n in sets[rule["set"]]):
            return True
    return False


def _documented_urls() -> list[str]:
    """The URLs Home Assistant's documented REST sensors read (docs/home-assistant)."""
    docs = ROOT / "docs" / "home-assistant"
    example = yaml.safe_load((docs / "secrets.example.yaml").read_text(encoding="utf-8"))
    text = (docs / "configuration.yaml").read_text(encoding="utf-8")
    names = [
        line.split("!secret", 1)[1].strip()
        for line in text.splitlines()
        if "resource: !secret" in line
    ]
    assert names, "the documented configuration reads no device"
    return [str(example[name]) for name in names]


def test_home_assistant_reaches_the_dome_through_the_ingress_only(
    lab_runs: dict[str, StackRun],
) -> None:
    """Home Assistant (zone external, encryption required) -> HTTPS -> Traefik on a k3s node
    -> HTTP from that node's address -> dome-pi:dome_port. The first hop is TLS to the
    Ingress's hosts (ServiceLB's 443 is forwarded to Traefik's pod, not input: the firewall
    role leaves forwarding to k3s, roles/firewall/README.md); the second is admitted by the
    dome's host firewall as the `monitoring` source; Home Assistant's own address stays
    refused on the dome's port. Built from the apps stack's objects (production inventory,
    under mocks), the firewall role's own plan of each dome host, and the documented URLs."""
    inv = inventory()
    zone_defs, sources, services = _zone_definitions()
    groups = {name: list(members) for name, members in inv.groups.items()} | {
        "all": list(inv.hosts)
    }
    hostvars = {name: dict(host.variables) for name, host in inv.hosts.items()}
    (ingress,) = [
        i for i in _objects(lab_runs, "Ingress") if i["metadata"]["name"] == "devices-read"
    ]
    tls_hosts = {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
    routed = {
        (r["host"], p["path"]): p["backend"]["service"]["name"]
        for r in ingress["spec"]["rules"]
        for p in r["http"]["paths"]
    }
    dome_backends = set()
    for url in _documented_urls():
        parts = urlsplit(url)
        assert parts.scheme == "https", url
        assert parts.hostname in tls_hosts, url
        backend = routed[(parts.hostname, parts.path)]
        if parts.path.startswith("/api/dome/"):
            dome_backends.add(backend)
    assert dome_backends, "Home Assistant reads the dome through the Ingress"
    ha = integration_networks()["homeAssistant"]
    assert all(inside(n, "external") for n in ha)
    nodes = [h.address for h in inv.group("k3s_cluster")]
    assert nodes
    by_address = {h.address: h.name for h in inv.hosts.values()}
    checked = 0
    for slice_ in _objects(lab_runs, "EndpointSlice"):
        if slice_["metadata"]["labels"]["kubernetes.io/service-name"] not in dome_backends:
            continue
        (port,) = slice_["ports"]
        for endpoint in slice_["endpoints"]:
            for address in endpoint["addresses"]:
                host = by_address[address]
                assert host in inv.groups["dome_controllers"], host
                plan = fz.firewall_host_plan(host, zone_defs, sources, services, groups, hostvars)
                for node in nodes:
                    assert _admitted(plan, node, port["port"]), (host, node, port["port"])
                for network in ha:
                    assert not _admitted(plan, str(network.network_address), port["port"]), (
                        f"{host} admits Home Assistant ({network}) on {port['port']}"
                    )
                checked += 1
    assert checked == len(inv.group("dome_controllers"))
