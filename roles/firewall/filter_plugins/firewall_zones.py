"""The lab's security zones as data: checked, then turned into one host's nftables rules.

Ansible filters (``roles/firewall``), used on the controller only:

- ``firewall_zone_problems``: everything wrong with the zones, sources and services for
  one host, as sentences (empty when the definition is consistent). The preflight asserts
  on it before any host is touched.
- ``firewall_host_plan``: for one host, its zone, the address sets its rules need and the
  rules (service, source, family, protocol, ports), in a stable order, for the template.
- ``firewall_tcp_reachable``: whether this controller can open a new TCP connection to a
  host's port within a time limit (the check after a change). A filter, not a task
  delegated to localhost: Mitogen forks a local context for that, and such forks were seen
  to hang here.

The definitions (inventory/<env>/group_vars/all/zones.yml, documented in
inventory/README.md):

- a *zone* has ``networks`` (CIDRs, no two zones' networks overlap), member ``groups``
  (every host is in exactly one zone and its address lies in the zone's networks),
  ``services`` every member host offers, and ``encryption: required`` where nothing
  unencrypted may cross (no unencrypted service is opened to it or offered in it);
- a *source* is a named set of senders beside the zones: ``networks`` and the addresses
  of the hosts of ``groups`` (e.g. ``monitoring``: where Prometheus scrapes from);
- a *service* is what a host listens on: ``protocol`` (tcp, udp or any), ``ports`` (a
  number, a range ``"2379-2380"``, or the name of an inventory variable holding the port,
  such as ``dome_port``), who may open connections to it (``from``: zone or source names),
  on which hosts (``groups``, or the zones that list it), and whether it is ``encrypted``.

Plain Python (standard library only): the same functions are unit-tested without Ansible.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PORT_RANGE = re.compile(r"^(\d+)-(\d+)$")
PROTOCOLS = ("tcp", "udp", "any")
ZONE_KEYS = {"description", "networks", "groups", "services", "encryption"}
SOURCE_KEYS = {"description", "networks", "groups"}
SERVICE_KEYS = {"description", "groups", "protocol", "ports", "from", "encrypted"}
ENCRYPTION = ("none", "required")


@dataclass
class Zone:
    name: str
    networks: list[Network] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    encryption: str = "none"


@dataclass
class Source:
    name: str
    networks: list[Network] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


@dataclass
class Service:
    name: str
    groups: list[str] | None = None
    protocol: str = "tcp"
    ports: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    encrypted: bool = False


@dataclass
class Model:
    zones: dict[str, Zone]
    sources: dict[str, Source]
    services: dict[str, Service]
    problems: list[str]


# -- reading the definitions ---------------------------------------------------------------


def _strings(value: object, where: str, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        problems.append(f"{where} must be a list")
        return []
    out = []
    for item in value:
        if isinstance(item, str | int) and not isinstance(item, bool):
            out.append(str(item))
        else:
            problems.append(f"{where}: {item!r} is not a name or a number")
    return out


def _networks(value: object, where: str, problems: list[str]) -> list[Network]:
    out = []
    for text in _strings(value, where, problems):
        try:
            out.append(ipaddress.ip_network(text, strict=True))
        except ValueError as error:
            problems.append(f"{where}: {text!r} is not a network ({error})")
    return out


def _mapping(value: object, what: str, problems: list[str]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{what} must be a mapping of names to definitions")
        return {}
    return value


def _body(
    name: str, body: object, what: str, keys: set[str], problems: list[str]
) -> Mapping[str, Any]:
    if not NAME.match(str(name)):
        problems.append(f"{what} name {name!r}: use lower-case letters, digits and '_'")
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        problems.append(f"{what} {name!r} must be a mapping")
        return {}
    unknown = sorted(set(body) - keys)
    if unknown:
        problems.append(f"{what} {name!r}: unknown keys {unknown} (known: {sorted(keys)})")
    return body


def read_model(zones: object, sources: object, services: object) -> Model:
    """Parse the three definitions; structural problems are collected, not raised."""
    problems: list[str] = []
    model = Model({}, {}, {}, problems)
    for name, raw in _mapping(zones, "zones", problems).items():
        body = _body(name, raw, "zone", ZONE_KEYS, problems)
        zone = Zone(
            name=str(name),
            networks=_networks(body.get("networks"), f"zone {name!r} networks", problems),
            groups=_strings(body.get("groups"), f"zone {name!r} groups", problems),
            services=_strings(body.get("services"), f"zone {name!r} services", problems),
            encryption=str(body.get("encryption", "none")),
        )
        if not zone.networks:
            problems.append(f"zone {name!r} needs at least one network")
        if zone.encryption not in ENCRYPTION:
            problems.append(f"zone {name!r}: encryption must be one of {list(ENCRYPTION)}")
        model.zones[zone.name] = zone
    for name, raw in _mapping(sources, "sources", problems).items():
        body = _body(name, raw, "source", SOURCE_KEYS, problems)
        if str(name) in model.zones:
            problems.append(f"source {name!r} has the name of a zone")
        source = Source(
            name=str(name),
            networks=_networks(body.get("networks"), f"source {name!r} networks", problems),
            groups=_strings(body.get("groups"), f"source {name!r} groups", problems),
        )
        if not source.networks and not source.groups:
            problems.append(f"source {name!r} needs networks or groups")
        model.sources[source.name] = source
    for name, raw in _mapping(services, "services", problems).items():
        body = _body(name, raw, "service", SERVICE_KEYS, problems)
        encrypted = body.get("encrypted", False)
        if not isinstance(encrypted, bool):
            problems.append(f"service {name!r}: encrypted must be true or false")
            encrypted = False
        service = Service(
            name=str(name),
            groups=(
                _strings(body["groups"], f"service {name!r} groups", problems)
                if "groups" in body
                else None
            ),
            protocol=str(body.get("protocol", "tcp")),
            ports=_strings(body.get("ports"), f"service {name!r} ports", problems),
            sources=_strings(body.get("from"), f"service {name!r} from", problems),
            encrypted=encrypted,
        )
        if service.protocol not in PROTOCOLS:
            problems.append(f"service {name!r}: protocol must be one of {list(PROTOCOLS)}")
        elif service.protocol == "any" and service.ports:
            problems.append(f"service {name!r}: protocol any takes no ports")
        elif service.protocol != "any" and not service.ports:
            problems.append(f"service {name!r} needs ports")
        if not service.sources:
            problems.append(f"service {name!r} needs 'from' (the zones or sources it is open to)")
        model.services[service.name] = service
    if not model.zones:
        problems.append("no zones are defined (lab_zones in group_vars/all/zones.yml)")
    return model


# -- what applies to a host -----------------------------------------------------------------


def zones_of(model: Model, host: str, groups: Mapping[str, Sequence[str]]) -> list[str]:
    return [
        z.name for z in model.zones.values() if any(host in groups.get(g, ()) for g in z.groups)
    ]


def services_of(model: Model, host: str, groups: Mapping[str, Sequence[str]]) -> list[Service]:
    """The services `host` offers: those of its zone(s) and those of its groups."""
    by_zone = {s for z in zones_of(model, host, groups) for s in model.zones[z].services}
    return [
        service
        for service in model.services.values()
        if service.name in by_zone
        or (service.groups is not None and any(host in groups.get(g, ()) for g in service.groups))
    ]


def _address(
    hostvars: Mapping[str, Any], host: str
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(_var(hostvars, host, "ansible_host")))
    except ValueError:
        return None


def _var(hostvars: Mapping[str, Any], host: str, name: str) -> Any:
    variables = hostvars.get(host)
    if variables is None:
        return None
    try:
        return variables[name]
    except KeyError:
        return None


def port_ranges(
    service: Service, host: str, hostvars: Mapping[str, Any], problems: list[str]
) -> list[tuple[int, int]]:
    """The service's ports on `host` as (first, last); variables read from its hostvars."""
    ranges = []
    for item in service.ports:
        if item.isdigit():
            first = last = int(item)
        elif match := PORT_RANGE.match(item):
            first, last = int(match[1]), int(match[2])
        elif NAME.match(item):
            value = _var(hostvars, host, item)
            if value is None:
                problems.append(
                    f"service {service.name!r} on {host}: its port variable {item} is not "
                    "declared for this host"
                )
                continue
            if isinstance(value, bool) or not str(value).isdigit():
                problems.append(
                    f"service {service.name!r} on {host}: {item} is {value!r}, not a port number"
                )
                continue
            first = last = int(value)
        else:
            problems.append(
                f"service {service.name!r}: port {item!r} is not a number, range or variable"
            )
            continue
        if not 1 <= first <= last <= 65535:
            problems.append(f"service {service.name!r}: port {item!r} is outside 1-65535")
            continue
        ranges.append((first, last))
    return ranges


def source_networks(
    model: Model,
    name: str,
    groups: Mapping[str, Sequence[str]],
    hostvars: Mapping[str, Any],
    problems: list[str],
) -> list[Network]:
    """The networks of a zone, or of a source (its networks and its groups' addresses)."""
    if name in model.zones:
        return list(model.zones[name].networks)
    source = model.sources[name]
    networks = list(source.networks)
    for group in source.groups:
        for member in groups.get(group, ()):
            address = _address(hostvars, member)
            if address is None:
                problems.append(
                    f"source {name!r}: {member}'s ansible_host is not an IP address "
                    "(firewall rules need addresses)"
                )
                continue
            networks.append(ipaddress.ip_network(address))
    return networks


# -- the checks -----------------------------------------------------------------------------


def _global_problems(model: Model, groups: Mapping[str, Sequence[str]]) -> list[str]:
    problems = list(model.problems)
    known = set(model.zones) | set(model.sources)
    owned = [(zone.name, net) for zone in model.zones.values() for net in zone.networks]
    for i, (zone_a, net_a) in enumerate(owned):
        for zone_b, net_b in owned[i + 1 :]:
            if net_a.version == net_b.version and net_a.overlaps(net_b):
                problems.append(
                    f"networks overlap: {net_a} (zone {zone_a!r}) and {net_b} (zone {zone_b!r})"
                )
    for zone in model.zones.values():
        for group in zone.groups:
            if group not in groups:
                problems.append(f"zone {zone.name!r}: group {group!r} is not in the inventory")
        for name in zone.services:
            if name not in model.services:
                problems.append(f"zone {zone.name!r}: service {name!r} is not defined")
    for source in model.sources.values():
        for group in source.groups:
            if group not in groups:
                problems.append(f"source {source.name!r}: group {group!r} is not in the inventory")
    listed = {s for zone in model.zones.values() for s in zone.services}
    for service in model.services.values():
        for name in service.sources:
            if name not in known:
                problems.append(
                    f"service {service.name!r}: 'from' names {name!r}, which is neither a zone "
                    "nor a source"
                )
            elif (
                name in model.zones
                and model.zones[name].encryption == "required"
                and not service.encrypted
            ):
                problems.append(
                    f"service {service.name!r} is not encrypted but open to zone {name!r}, "
                    "which requires encryption"
                )
        for group in service.groups or []:
            if group not in groups:
                problems.append(
                    f"service {service.name!r}: group {group!r} is not in the inventory"
                )
        if service.groups is None and service.name not in listed:
            problems.append(
                f"service {service.name!r} runs nowhere: give it groups or list it in a "
                "zone's services"
            )
    return problems


def firewall_zone_problems(
    host: str,
    zones: object,
    sources: object,
    services: object,
    groups: Mapping[str, Sequence[str]],
    hostvars: Mapping[str, Any],
    ssh_port: object = 22,
) -> list[str]:
    """Every problem of the definition that concerns `host` (global ones included)."""
    model = read_model(zones, sources, services)
    problems = _global_problems(model, groups)
    if model.problems:
        return _unique(problems)
    mine = zones_of(model, host, groups)
    address = _address(hostvars, host)
    if not mine:
        problems.append(
            f"{host} is in no zone: add one of its groups to a zone's groups "
            f"(zones: {sorted(model.zones)})"
        )
    elif len(mine) > 1:
        problems.append(f"{host} is in more than one zone: {mine}")
    elif address is None:
        problems.append(f"{host}: ansible_host is not an IP address (zones are networks)")
    elif not any(address in net for net in model.zones[mine[0]].networks):
        problems.append(
            f"{host} at {address} is outside its zone {mine[0]!r} "
            f"({', '.join(map(str, model.zones[mine[0]].networks))})"
        )
    offered = services_of(model, host, groups)
    claimed: list[tuple[str, int, int, str]] = []
    port = int(str(ssh_port)) if str(ssh_port).isdigit() else 22
    ssh_reachable = False
    for service in offered:
        if mine and model.zones[mine[0]].encryption == "required" and not service.encrypted:
            problems.append(
                f"service {service.name!r} on {host} is not encrypted, but zone {mine[0]!r} "
                "requires encryption"
            )
        for name in service.sources:
            if name in model.sources:
                source_networks(model, name, groups, hostvars, problems)
        ranges = port_ranges(service, host, hostvars, problems)
        if any(name in model.zones for name in service.sources) and (
            service.protocol == "any"
            or (service.protocol == "tcp" and any(a <= port <= b for a, b in ranges))
        ):
            ssh_reachable = True
        for first, last in ranges:
            for protocol in _protocols(service.protocol):
                for other_proto, other_first, other_last, other in claimed:
                    if other_proto == protocol and first <= other_last and other_first <= last:
                        problems.append(
                            f"{host}: services {other!r} and {service.name!r} both claim "
                            f"{protocol} port {max(first, other_first)}"
                        )
                claimed.append((protocol, first, last, service.name))
    if not ssh_reachable:
        problems.append(
            f"{host}: no service opens its SSH port {port}/tcp to a zone; Ansible would be "
            "locked out (add ssh to its zone's services)"
        )
    return _unique(problems)


def _protocols(protocol: str) -> tuple[str, ...]:
    return ("tcp", "udp") if protocol == "any" else (protocol,)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# -- the plan the template renders ----------------------------------------------------------


def _set_name(model: Model, name: str, version: int) -> str:
    kind = "zone" if name in model.zones else "src"
    return f"{kind}_{name}_v{version}"


def _dport(ranges: list[tuple[int, int]]) -> str:
    items = [str(a) if a == b else f"{a}-{b}" for a, b in sorted(set(ranges))]
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def firewall_host_plan(
    host: str,
    zones: object,
    sources: object,
    services: object,
    groups: Mapping[str, Sequence[str]],
    hostvars: Mapping[str, Any],
) -> dict[str, Any]:
    """What `host`'s table holds: named address sets and accept rules, in a stable order.

    Raises ValueError if the definition has problems (the preflight reports them first).
    """
    problems = firewall_zone_problems(host, zones, sources, services, groups, hostvars)
    if problems:
        raise ValueError("firewall: " + "; ".join(problems))
    model = read_model(zones, sources, services)
    (zone,) = zones_of(model, host, groups)
    sets: dict[str, dict[str, Any]] = {}
    rules: list[dict[str, Any]] = []
    for service in sorted(services_of(model, host, groups), key=lambda s: s.name):
        ranges = port_ranges(service, host, hostvars, [])
        for source in service.sources:
            networks = source_networks(model, source, groups, hostvars, [])
            for version, family in ((4, "ip"), (6, "ip6")):
                elements = sorted({n for n in networks if n.version == version}, key=_net_key)
                if not elements:
                    continue
                name = _set_name(model, source, version)
                sets[name] = {
                    "name": name,
                    "type": "ipv4_addr" if version == 4 else "ipv6_addr",
                    "elements": [str(n) for n in elements],
                }
                rules.append(
                    {
                        "service": service.name,
                        "source": source,
                        "family": family,
                        "set": name,
                        "protocol": service.protocol,
                        "dport": _dport(ranges) if ranges else "",
                    }
                )
    return {"zone": zone, "sets": [sets[k] for k in sorted(sets)], "rules": rules}


def _net_key(net: Network) -> tuple[int, int, int]:
    return (net.version, int(net.network_address), net.prefixlen)


def firewall_tcp_reachable(host: str, port: object, timeout: object = 20) -> bool:
    """True once a TCP connection to host:port succeeds, False if none did in `timeout` s."""
    deadline = time.monotonic() + float(str(timeout))
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            with socket.create_connection((str(host), int(str(port))), timeout=min(left, 3.0)):
                return True
        except OSError:
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "firewall_zone_problems": firewall_zone_problems,
            "firewall_host_plan": firewall_host_plan,
            "firewall_tcp_reachable": firewall_tcp_reachable,
        }
