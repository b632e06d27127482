"""Only the monitoring namespace reaches the integrations, and only on their API ports.

No cluster (and so no kube-router) runs here. The recorded NetworkPolicies of the platform
and apps stacks are evaluated by a small egress evaluator written from the Kubernetes
NetworkPolicy API reference (networking.k8s.io/v1: a pod selected by no Egress policy may
reach anything; otherwise a connection is allowed if any rule of any selecting policy
matches it: `to` peers by ipBlock cidr minus `except`, or namespaceSelector for pods;
`ports` by protocol and port; an empty list matches all), not from the generator, over a
matrix of source namespaces and destinations.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from labinfra.monitoring.integrations import Integrations
from labinfra.netpol import egress_rules, integration_network
from labinfra.offline.harness import StackRun
from labinfra.offline.lab import PROJECTS_DIR


@dataclass(frozen=True)
class Destination:
    ip: str
    port: int
    pod_namespace: str | None = None
    """Set when the destination is a pod of the cluster."""


def _peer_matches(peer: dict[str, Any], dest: Destination) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        address = ipaddress.ip_address(dest.ip)
        network = ipaddress.ip_network(block["cidr"])
        if address.version != network.version or address not in network:
            return False
        return not any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if "namespaceSelector" in peer and "podSelector" not in peer:
        selector = peer["namespaceSelector"]
        return dest.pod_namespace is not None and not selector.get("matchLabels")
    return False


def _rule_matches(rule: dict[str, Any], dest: Destination) -> bool:
    peers = rule.get("to") or []
    if peers and not any(_peer_matches(p, dest) for p in peers):
        return False
    ports = rule.get("ports") or []
    return not ports or any(
        p.get("protocol", "TCP") == "TCP" and p.get("port") == dest.port for p in ports
    )


def allowed(policies: list[dict[str, Any]], namespace: str, dest: Destination) -> bool:
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == namespace
        and "Egress" in (p["spec"].get("policyTypes") or [])
        and not (p["spec"].get("podSelector") or {}).get("matchLabels")  # selects every pod
    ]
    if not selecting:
        return True
    return any(_rule_matches(r, dest) for p in selecting for r in p["spec"].get("egress") or [])


def _policies(lab_runs: dict[str, StackRun]) -> list[dict[str, Any]]:
    return [
        dict(r.inputs)
        for run in lab_runs.values()
        for r in run.kubernetes_objects()
        if r.inputs["kind"] == "NetworkPolicy"
        and r.inputs["metadata"]["name"] == "integrations-egress"
    ]


def _namespaces(lab_runs: dict[str, StackRun]) -> set[str]:
    return {
        r.inputs["metadata"]["name"]
        for run in lab_runs.values()
        for r in run.kubernetes_objects()
        if r.inputs["kind"] == "Namespace"
    } | {"kube-system", "default"}


INTEGRATIONS = {
    # from infra/projects/platform/Pulumi.lab.yaml (cidrs, address ports): zones external
    # and storage (tests/integrations/test_addresses_in_zones.py ties them to the zones)
    "home-assistant": Destination("192.168.60.5", 8123),
    "proxmox": Destination("192.168.60.2", 8006),
    "truenas": Destination("192.168.70.3", 443),
}
CSI = {"csi-proxmox": "proxmox", "democratic-csi": "truenas"}


def test_the_example_config_is_what_the_matrix_assumes() -> None:
    config = yaml.safe_load((PROJECTS_DIR / "platform" / "Pulumi.lab.yaml").read_text())
    integrations = Integrations.model_validate(config["config"]["lab-platform:integrations"])
    network = integration_network(integrations, monitoring_namespace="monitoring")
    assert set(network.cidrs) == {f"{d.ip}/32" for d in INTEGRATIONS.values()}


def test_every_namespace_has_the_policy(lab_runs: dict[str, StackRun]) -> None:
    policies = _policies(lab_runs)
    covered = [p["metadata"]["namespace"] for p in policies]
    assert sorted(covered) == sorted(set(covered)), "one policy per namespace"
    assert set(covered) == _namespaces(lab_runs)


@pytest.mark.parametrize("integration", sorted(INTEGRATIONS))
def test_only_monitoring_reaches_an_integration_and_only_its_api_port(
    lab_runs: dict[str, StackRun], integration: str
) -> None:
    policies = _policies(lab_runs)
    target = INTEGRATIONS[integration]
    for namespace in sorted(_namespaces(lab_runs)):
        may = namespace == "monitoring" or CSI.get(namespace) == integration
        assert allowed(policies, namespace, target) is may, (namespace, integration)
        # Never another port of the integration's host (SSH, the NAS's shares, ...).
        assert not allowed(policies, namespace, Destination(target.ip, 22)), namespace
        assert not allowed(policies, namespace, Destination(target.ip, 2049)), namespace


def test_everything_else_stays_reachable(lab_runs: dict[str, StackRun]) -> None:
    policies = _policies(lab_runs)
    for namespace in _namespaces(lab_runs):
        for dest in (
            Destination("10.42.1.7", 53, pod_namespace="kube-system"),  # cluster DNS pod
            Destination("192.168.50.11", 6443),  # the k3s API on a server
            Destination("192.168.60.4", 443),  # a neighbour of the integrations
            Destination("192.168.70.4", 443),  # another, on the storage network
            Destination("140.82.112.3", 443),  # GitHub, for the runners
        ):
            assert allowed(policies, namespace, dest), (namespace, dest)


def test_the_evaluator_can_refuse() -> None:
    """A policy with only the deny rule, checked the other way round."""
    policy = {
        "metadata": {"namespace": "x"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": egress_rules(["10.0.0.5/32"]),
        },
    }
    assert not allowed([policy], "x", Destination("10.0.0.5", 443))
    assert allowed([policy], "x", Destination("10.0.0.6", 443))
    assert allowed([policy], "y", Destination("10.0.0.5", 443))


def test_ipv6_integrations_are_kept_out_too() -> None:
    rules = egress_rules(["192.168.50.5/32", "fd00::5/128"])
    blocks = [peer["ipBlock"] for rule in rules for peer in rule["to"] if "ipBlock" in peer]  # type: ignore[attr-defined]
    assert {"cidr": "::/0", "except": ["fd00::5/128"]} in blocks
    assert {"cidr": "0.0.0.0/0", "except": ["192.168.50.5/32"]} in blocks
