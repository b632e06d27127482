"""The policies of the pack, built from the rules (importable without starting a server)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from labpolicies import proxmox, rules
from labpolicies.rules import Rule

PACK_NAME = "lab"


def _policy(
    name: str, description: str, rule: Rule, level: EnforcementLevel
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule(args.resource_type, args.props):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=level
    )


MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

POLICIES: list[ResourceValidationPolicy] = [
    _policy(
        "pinned-images-from-allowed-registries",
        "Container images come from an allowed registry, pinned by version tag or digest.",
        rules.pinned_images,
        MANDATORY,
    ),
    _policy(
        "resource-requests-and-memory-limits",
        "Every container requests CPU and memory and has a memory limit.",
        rules.requests_and_limits,
        MANDATORY,
    ),
    _policy(
        "restricted-pod-security",
        "Pods run as non-root, without privilege escalation, with capabilities dropped, "
        "and without host namespaces or hostPath volumes.",
        rules.restricted_pod_security,
        MANDATORY,
    ),
    _policy(
        "liveness-and-readiness-probes",
        "Long-running containers have liveness and readiness probes.",
        rules.probes,
        ADVISORY,
    ),
    _policy(
        "no-loadbalancer-or-nodeport",
        "Services are ClusterIP unless allowlisted; traffic enters through the Ingress.",
        rules.no_external_services,
        MANDATORY,
    ),
    _policy(
        "recommended-labels",
        "Kubernetes objects carry the app.kubernetes.io name, part-of and managed-by labels.",
        rules.recommended_labels,
        MANDATORY,
    ),
    _policy(
        "pinned-helm-charts",
        "Helm releases pin an exact chart version from an https or oci repository.",
        rules.pinned_helm_charts,
        MANDATORY,
    ),
    _policy(
        "prometheus-retention",
        "Prometheus has retention by time and by size.",
        rules.prometheus_retention,
        MANDATORY,
    ),
]
POLICIES.append(
    _policy(
        "proxmox-backup-retention",
        "Proxmox vzdump jobs run on a schedule and keep a bounded set of backups.",
        proxmox.backup_retention,
        MANDATORY,
    )
)


def _vms_backed_up(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = [(r.resource_type, r.name, r.props) for r in args.resources]
    for message in proxmox.vms_backed_up(resources):
        report_violation(message, None)


STACK_POLICIES: list[StackValidationPolicy] = [
    StackValidationPolicy(
        name="proxmox-vms-backed-up",
        description="Every Proxmox VM the stack creates is in an enabled vzdump backup job.",
        validate=_vms_backed_up,
        enforcement_level=MANDATORY,
    )
]


class Recorded(Protocol):
    """A resource as a mocked Pulumi run records it (labinfra.offline's `Recorded`)."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def urn(self) -> str: ...
    @property
    def inputs(self) -> Mapping[str, Any]: ...


def pack_violations(resources: Iterable[Recorded]) -> list[str]:
    """Every resource policy of the pack over recorded resources, as the engine would run
    them: one `policy: resource: message` line per violation (no line: the pack passes)."""
    found: list[str] = []
    for resource in resources:
        args = ResourceValidationArgs(
            resource_type=resource.type,
            props=dict(resource.inputs),
            urn=resource.urn,
            name=resource.name,
            opts=None,  # type: ignore[arg-type]  # the rules never read the options
            provider=None,
        )
        for policy in POLICIES:
            prefix = f"{policy.name}: {resource.name}: "

            def report(message: str, urn: str | None = None, prefix: str = prefix) -> None:
                found.append(prefix + message)

            policy.validate(args, report)
    return found
