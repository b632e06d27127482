"""NetworkPolicies that keep the integrations (Home Assistant, Proxmox, TrueNAS) reachable
from the monitoring namespace only, on their API ports only.

NetworkPolicies allow; they cannot deny one destination. So every namespace the lab's
stacks create (and kube-system and default) gets an egress policy that allows all
destinations *except* the integrations' addresses (`ipBlock.except`, from
`integrations.*.cidrs`) plus every pod of the cluster; the monitoring namespace's policy
adds each integration's addresses on that integration's API ports; the CSI drivers'
namespaces add their backend's API (Proxmox for Proxmox CSI, TrueNAS for democratic-csi),
which their controllers call. k3s enforces NetworkPolicies with its embedded kube-router
controller. Traffic of hostNetwork pods and of the nodes themselves (the CSI node plugins'
NFS/iSCSI mounts, k3s's etcd uploads) is not subject to NetworkPolicies: the hosts'
firewalls (the security zones' nftables role) cover it.

Pod addresses: whether an ipBlock applies to pod IPs is left to the implementation by the
NetworkPolicy API, so in-cluster traffic is allowed by a namespaceSelector rule of its own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from labinfra.monitoring.integrations import Integrations
from labinfra.names import recommended_labels

POLICY_NAME = "integrations-egress"
ANY = {4: "0.0.0.0/0", 6: "::/0"}


@dataclass(frozen=True)
class Reach:
    """Addresses a namespace may reach on the given TCP ports."""

    cidrs: tuple[str, ...]
    ports: tuple[int, ...]


@dataclass(frozen=True)
class IntegrationNetwork:
    """Every integration's addresses, and what may reach them from which namespace."""

    cidrs: tuple[str, ...]
    allowed: Mapping[str, tuple[Reach, ...]] = field(default_factory=dict)
    """namespace -> what it may reach of the integrations."""


def integration_network(
    integrations: Integrations,
    *,
    monitoring_namespace: str,
    csi: Mapping[str, tuple[str, int]] | None = None,
) -> IntegrationNetwork:
    """The integrations' addresses (from config) and who may reach which port.

    `csi` maps a CSI driver's namespace to (integration, API port) it calls.
    """
    configured = integrations.configured()
    by_integration: dict[str, Reach] = {}
    for name, item in configured.items():
        ports = tuple(sorted({port for _, port in item.endpoints()}))
        by_integration[name] = Reach(tuple(item.network_cidrs()), ports)
    cidrs = tuple(sorted({c for reach in by_integration.values() for c in reach.cidrs}))
    allowed: dict[str, tuple[Reach, ...]] = {
        monitoring_namespace: tuple(by_integration[n] for n in sorted(by_integration))
    }
    for namespace, (name, port) in (csi or {}).items():
        if name not in by_integration:
            continue  # not an integration: its addresses are not kept from anyone
        allowed[namespace] = (Reach(by_integration[name].cidrs, (port,)),)
    return IntegrationNetwork(cidrs, allowed)


def egress_rules(deny: Sequence[str], reach: Sequence[Reach] = ()) -> list[dict[str, object]]:
    """The egress rules of one namespace's policy (NetworkPolicy spec, camelCase)."""
    rules: list[dict[str, object]] = [{"to": [{"namespaceSelector": {}}]}]
    for family, any_address in ANY.items():
        excluded = [c for c in deny if ipaddress.ip_network(c).version == family]
        if family == 6 and not excluded:
            continue
        block: dict[str, object] = {"cidr": any_address}
        if excluded:
            block["except"] = list(excluded)
        rules.append({"to": [{"ipBlock": block}]})
    for item in reach:
        rules.append(
            {
                "to": [{"ipBlock": {"cidr": c}} for c in item.cidrs],
                "ports": [{"protocol": "TCP", "port": p} for p in item.ports],
            }
        )
    return rules


def egress_policy(
    resource_name: str,
    namespace: str,
    deny: pulumi.Input[Sequence[str]],
    reach: Sequence[Reach],
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=POLICY_NAME,
            namespace=namespace,
            labels=recommended_labels(POLICY_NAME, "network-policy"),
        ),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(),
            policy_types=["Egress"],
            # Plain NetworkPolicy egress rules (camelCase), from the addresses when known.
            egress=cast(
                Any,
                pulumi.Output.from_input(deny).apply(
                    lambda cidrs: egress_rules(list(cidrs), reach)
                ),
            ),
        ),
        opts=opts,
    )


def integration_policies(
    name: str,
    network: IntegrationNetwork,
    namespaces: Sequence[str],
    opts_for: Mapping[str, pulumi.ResourceOptions],
    default_opts: pulumi.ResourceOptions,
) -> list[k8s.networking.v1.NetworkPolicy]:
    """One policy per namespace; `opts_for[ns]` makes it wait for the namespace."""
    if not network.cidrs:
        return []
    return [
        egress_policy(
            f"{name}-{namespace}",
            namespace,
            list(network.cidrs),
            network.allowed.get(namespace, ()),
            opts_for.get(namespace, default_opts),
        )
        for namespace in namespaces
    ]
