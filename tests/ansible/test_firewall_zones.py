"""Security zones: the preflight's refusals, each host's plan, and the rendered rulesets.

The filter plugin is plain Python, tested here on small definitions; the inventories'
real definitions are read with the same loader the Pulumi programs use
(labinfra.inventory). The rulesets are rendered from the role's template with Jinja2 as
Ansible's template module does (trim_blocks) and checked by the kernel: `nft -c` in a
network namespace of its own validates the whole transaction without committing it.
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import jinja2
import pytest
import yaml

from labinfra.inventory import load_inventory

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "firewall"


def _load_plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "firewall_zones", ROLE / "filter_plugins" / "firewall_zones.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fz = _load_plugin()

GROUPS = {
    "all": ["pi1", "pc1", "k1"],
    "pis": ["pi1"],
    "lab_pcs": ["pc1"],
    "k3s_cluster": ["k1"],
    "dome_controllers": ["pi1"],
}
HOSTVARS: dict[str, dict[str, Any]] = {
    "pi1": {"ansible_host": "10.0.1.11", "dome_port": 8470},
    "pc1": {"ansible_host": "10.0.1.12"},
    "k1": {"ansible_host": "10.0.1.13"},
}
ZONES: dict[str, Any] = {
    "management": {"networks": ["10.0.0.0/24"]},
    "lab": {
        "networks": ["10.0.1.0/24", "fd00:1::/64"],
        "groups": ["pis", "lab_pcs", "k3s_cluster"],
        "services": ["ssh", "node_exporter"],
    },
    "external": {"networks": ["10.0.9.0/24"], "encryption": "required"},
}
SOURCES: dict[str, Any] = {
    "monitoring": {"groups": ["k3s_cluster"], "networks": ["10.42.0.0/16"]},
}
SERVICES: dict[str, Any] = {
    "ssh": {"ports": [22], "from": ["management"], "encrypted": True},
    "node_exporter": {"ports": [9100], "from": ["monitoring"]},
    "dome": {"groups": ["dome_controllers"], "ports": ["dome_port"], "from": ["lab", "monitoring"]},
    "etcd": {"groups": ["k3s_cluster"], "ports": ["2379-2380"], "from": ["monitoring"]},
}


def problems(
    host: str = "pi1",
    zones: dict[str, Any] | None = None,
    sources: dict[str, Any] | None = None,
    services: dict[str, Any] | None = None,
    groups: dict[str, list[str]] | None = None,
    hostvars: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    result: list[str] = fz.firewall_zone_problems(
        host,
        ZONES if zones is None else zones,
        SOURCES if sources is None else sources,
        SERVICES if services is None else services,
        GROUPS if groups is None else groups,
        HOSTVARS if hostvars is None else hostvars,
    )
    return result


def changed(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `data` with the value at `a.b.c` replaced (None deletes it)."""
    out = copy.deepcopy(data)
    *parents, last = path.split(".")
    target = out
    for key in parents:
        target = target[key]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return out


def test_the_example_definition_is_consistent() -> None:
    for host in GROUPS["all"]:
        assert problems(host) == []


@pytest.mark.parametrize(
    ("case", "kwargs", "expected"),
    [
        (
            "host in no zone",
            {"groups": {**GROUPS, "lab_pcs": [], "all": ["pi1", "pc1", "k1"]}, "host": "pc1"},
            "pc1 is in no zone",
        ),
        (
            "host in two zones",
            {"zones": changed(ZONES, "management.groups", ["pis"])},
            "pi1 is in more than one zone: ['management', 'lab']",
        ),
        (
            "overlapping networks",
            {"zones": changed(ZONES, "external.networks", ["10.0.1.128/25"])},
            "networks overlap: 10.0.1.0/24 (zone 'lab') and 10.0.1.128/25 (zone 'external')",
        ),
        (
            "host bits set",
            {"zones": changed(ZONES, "management.networks", ["10.0.0.1/24"])},
            "zone 'management' networks: '10.0.0.1/24' is not a network",
        ),
        (
            "address outside its zone",
            {"hostvars": changed(HOSTVARS, "pi1.ansible_host", "10.0.0.5")},
            "pi1 at 10.0.0.5 is outside its zone 'lab' (10.0.1.0/24, fd00:1::/64)",
        ),
        (
            "address is a name",
            {"hostvars": changed(HOSTVARS, "pi1.ansible_host", "pi1.lab.internal")},
            "pi1: ansible_host is not an IP address",
        ),
        (
            "port variable not declared",
            {"hostvars": changed(HOSTVARS, "pi1.dome_port", None)},
            "service 'dome' on pi1: its port variable dome_port is not declared for this host",
        ),
        (
            "port variable not a port",
            {"hostvars": changed(HOSTVARS, "pi1.dome_port", "http")},
            "service 'dome' on pi1: dome_port is 'http', not a port number",
        ),
        (
            "port out of range",
            {"services": changed(SERVICES, "ssh.ports", [70000])},
            "service 'ssh': port '70000' is outside 1-65535",
        ),
        (
            "two services on one port",
            {"services": changed(SERVICES, "node_exporter.ports", ["22"])},
            "pi1: services 'ssh' and 'node_exporter' both claim tcp port 22",
        ),
        (
            "unknown source",
            {"services": changed(SERVICES, "dome.from", ["lab", "monitorin"])},
            "service 'dome': 'from' names 'monitorin', which is neither a zone nor a source",
        ),
        (
            "unknown group",
            {"zones": changed(ZONES, "lab.groups", ["pis", "lab_pcs", "k3s_cluster", "pi"])},
            "zone 'lab': group 'pi' is not in the inventory",
        ),
        (
            "typo in a key",
            {"services": changed(SERVICES, "ssh.form", ["management"])},
            "service 'ssh': unknown keys ['form']",
        ),
        (
            "unencrypted service open to an encrypted zone",
            {"services": changed(SERVICES, "dome.from", ["external"])},
            "service 'dome' is not encrypted but open to zone 'external', which requires "
            "encryption",
        ),
        (
            "unencrypted service in an encrypted zone",
            {"zones": changed(ZONES, "lab.encryption", "required")},
            "service 'node_exporter' on pi1 is not encrypted, but zone 'lab' requires encryption",
        ),
        (
            "service that runs nowhere",
            {"services": changed(SERVICES, "spare", {"ports": [1], "from": ["lab"]})},
            "service 'spare' runs nowhere",
        ),
        (
            "SSH open to no zone",
            {"services": changed(SERVICES, "ssh.from", ["monitoring"])},
            "pi1: no service opens its SSH port 22/tcp to a zone; Ansible would be locked out",
        ),
        ("no zones at all", {"zones": {}}, "no zones are defined"),
    ],
)
def test_an_inconsistent_definition_is_refused(
    case: str, kwargs: dict[str, Any], expected: str
) -> None:
    found = problems(**kwargs)
    assert any(expected in p for p in found), (case, found)
    with pytest.raises(ValueError, match="firewall: "):
        fz.firewall_host_plan(
            kwargs.get("host", "pi1"),
            kwargs.get("zones", ZONES),
            kwargs.get("sources", SOURCES),
            kwargs.get("services", SERVICES),
            kwargs.get("groups", GROUPS),
            kwargs.get("hostvars", HOSTVARS),
        )


def test_the_plan_opens_what_the_zone_and_the_groups_need() -> None:
    plan = fz.firewall_host_plan("pi1", ZONES, SOURCES, SERVICES, GROUPS, HOSTVARS)
    assert plan["zone"] == "lab"
    rules = {(r["service"], r["source"], r["family"], r["dport"]) for r in plan["rules"]}
    assert rules == {
        ("dome", "lab", "ip", "8470"),
        ("dome", "lab", "ip6", "8470"),  # the lab zone has an IPv6 network too
        ("dome", "monitoring", "ip", "8470"),
        ("node_exporter", "monitoring", "ip", "9100"),
        ("ssh", "management", "ip", "22"),
    }
    sets = {s["name"]: s for s in plan["sets"]}
    assert sets["src_monitoring_v4"]["elements"] == ["10.0.1.13/32", "10.42.0.0/16"]
    assert sets["zone_lab_v6"] == {
        "name": "zone_lab_v6",
        "type": "ipv6_addr",
        "elements": ["fd00:1::/64"],
    }
    # pc1 runs neither the dome nor etcd: only its zone's services.
    other = fz.firewall_host_plan("pc1", ZONES, SOURCES, SERVICES, GROUPS, HOSTVARS)
    assert {r["service"] for r in other["rules"]} == {"ssh", "node_exporter"}
    k1 = fz.firewall_host_plan("k1", ZONES, SOURCES, SERVICES, GROUPS, HOSTVARS)
    assert ("etcd", "2379-2380") in {(r["service"], r["dport"]) for r in k1["rules"]}


# -- the repository's inventories ------------------------------------------------------------


@pytest.fixture(scope="module", params=["sandbox", "production"])
def environment(request: pytest.FixtureRequest) -> Environment:
    env = str(request.param)
    inventory = load_inventory(ROOT / "inventory" / env / "hosts.yml")
    return Environment(
        name=env,
        definitions=yaml.safe_load(
            (ROOT / "inventory" / env / "group_vars/all/zones.yml").read_text()
        ),
        groups={name: list(members) for name, members in inventory.groups.items()}
        | {"all": list(inventory.hosts)},
        hostvars={name: dict(host.variables) for name, host in inventory.hosts.items()},
    )


@dataclass(frozen=True)
class Environment:
    name: str
    definitions: dict[str, Any]
    groups: dict[str, list[str]]
    hostvars: dict[str, dict[str, Any]]

    def args(self) -> tuple[Any, ...]:
        d = self.definitions
        return (d["lab_zones"], d["lab_sources"], d["lab_services"], self.groups, self.hostvars)


def test_each_inventory_defines_consistent_zones(environment: Environment) -> None:
    for host in environment.groups["all"]:
        assert fz.firewall_zone_problems(host, *environment.args()) == [], host
    # The role reads the inventory's definitions under its own names.
    d = environment.definitions
    assert d["firewall_zones"] == "{{ lab_zones }}"
    assert d["firewall_sources"] == "{{ lab_sources }}"
    assert d["firewall_services"] == "{{ lab_services }}"


def test_the_sandbox_mirrors_production() -> None:
    """Same zones, sources and services, so what the virtual hosts prove holds for the lab;
    only the networks differ, and the sandbox's simulated Pico W."""
    sandbox, production = (
        yaml.safe_load((ROOT / "inventory" / env / "group_vars/all/zones.yml").read_text())
        for env in ("sandbox", "production")
    )
    assert set(sandbox["lab_zones"]) == set(production["lab_zones"])
    assert set(sandbox["lab_sources"]) == set(production["lab_sources"])
    assert set(sandbox["lab_services"]) - set(production["lab_services"]) == {"picotemp_sim"}
    for name, service in production["lab_services"].items():
        assert sandbox["lab_services"][name] == service, name
    for name, zone in production["lab_zones"].items():
        other = sandbox["lab_zones"][name]
        assert {k: v for k, v in other.items() if k not in ("networks", "groups")} == {
            k: v for k, v in zone.items() if k not in ("networks", "groups")
        }, name


def test_controller_is_management_and_monitoring_in_the_sandbox() -> None:
    """The tests and `make lab` run on this machine: it must reach SSH and the exporters."""
    import ipaddress

    from labhosts.layout import GATEWAY

    d = yaml.safe_load((ROOT / "inventory/sandbox/group_vars/all/zones.yml").read_text())
    assert any(GATEWAY in ipaddress.ip_network(n) for n in d["lab_zones"]["management"]["networks"])
    assert any(
        GATEWAY in ipaddress.ip_network(n) for n in d["lab_sources"]["monitoring"]["networks"]
    )


# -- the rendered rulesets, checked by the kernel ---------------------------------------------


def render(environment: Environment, host: str, plan: dict[str, Any] | None = None) -> str:
    """The role's template for `host`, rendered as the template module does."""
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    internals = yaml.safe_load((ROLE / "vars/main.yml").read_text())
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROLE / "templates"),
        trim_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    # Ansible's `bool` filter, for the settings' booleans (true stays true).
    env.filters["bool"] = lambda value: (
        value is True or str(value).lower() in {"yes", "on", "1", "true"}
    )
    context = {
        **defaults,
        "inventory_hostname": host,
        "ansible_managed": "Ansible managed",
        "_firewall_table": internals["_firewall_table"],
        "_firewall_plan": plan or fz.firewall_host_plan(host, *environment.args()),
        "_firewall_digest": "0" * 64,
        "_firewall_controllers": ["10.213.0.1", "fd00::1"],
        "_firewall_ssh_port": 22,
    }
    return env.get_template("lab_filter.nft.j2").render(context)


def nft_check(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    nft = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    if nft is None:
        pytest.fail("nft is not installed (deps/apt/firewall.txt; `make bootstrap`)")
    ruleset = tmp_path / "ruleset.nft"
    ruleset.write_text(text)
    # A network namespace of its own: the check never sees or touches this machine's tables.
    return subprocess.run(
        ["unshare", "--net", nft, "-c", "-f", str(ruleset)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.integration
def test_every_hosts_ruleset_passes_the_kernels_check(
    environment: Environment, tmp_path: Path
) -> None:
    for host in environment.groups["all"]:
        text = render(environment, host)
        done = nft_check(text, tmp_path)
        assert done.returncode == 0, (environment.name, host, done.stderr, text)
        assert "policy drop;" in text
        assert "flush" not in text  # never another table's rules


@pytest.mark.integration
def test_the_kernels_check_refuses_a_broken_ruleset(tmp_path: Path) -> None:
    """The same check the template's validate runs: a rule naming a missing set fails."""
    environment = Environment(
        "example",
        {"lab_zones": ZONES, "lab_sources": SOURCES, "lab_services": SERVICES},
        GROUPS,
        HOSTVARS,
    )
    plan = fz.firewall_host_plan("pi1", ZONES, SOURCES, SERVICES, GROUPS, HOSTVARS)
    assert nft_check(render(environment, "pi1", plan), tmp_path).returncode == 0
    plan["sets"] = [s for s in plan["sets"] if s["name"] != "zone_management_v4"]
    done = nft_check(render(environment, "pi1", plan), tmp_path)
    assert done.returncode != 0
    assert "zone_management_v4" in done.stderr


def test_reachability_is_a_new_connection_within_the_time_limit() -> None:
    """What the role asks after a change (against a listener of this test on loopback)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert fz.firewall_tcp_reachable("127.0.0.1", port, 5) is True
    # Closed now: refused on every try until the time limit, then False.
    assert fz.firewall_tcp_reachable("127.0.0.1", port, 1.5) is False
