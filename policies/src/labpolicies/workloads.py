"""Finding pod specs, containers and metadata in resource properties (camelCase, as sent)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Props = Mapping[str, Any]

_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def kind_of(resource_type: str) -> str:
    """`kubernetes:apps/v1:Deployment` -> `Deployment`; other providers -> ''."""
    if not resource_type.startswith("kubernetes:"):
        return ""
    return resource_type.rsplit(":", 1)[-1]


def pod_spec(resource_type: str, props: Props) -> Props | None:
    kind = kind_of(resource_type)
    spec = props.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in _TEMPLATE_KINDS:
        return (spec.get("template") or {}).get("spec") or {}
    if kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        return (job.get("template") or {}).get("spec") or {}
    return None


def pod_metadata(resource_type: str, props: Props) -> Props:
    """The pod's metadata (the template's, for workload kinds): annotations matter to PSS."""
    kind = kind_of(resource_type)
    spec = props.get("spec") or {}
    if kind == "Pod":
        return props.get("metadata") or {}
    if kind in _TEMPLATE_KINDS:
        return (spec.get("template") or {}).get("metadata") or {}
    if kind == "CronJob":
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        return (job.get("template") or {}).get("metadata") or {}
    return {}


def containers(spec: Props) -> Iterator[Props]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def labels(props: Props) -> Mapping[str, str]:
    return (props.get("metadata") or {}).get("labels") or {}


def name(props: Props) -> str:
    return str((props.get("metadata") or {}).get("name") or "")


def is_kubernetes_object(resource_type: str) -> bool:
    return (
        resource_type.startswith("kubernetes:")
        and not resource_type.startswith("kubernetes:helm.sh/")
        and not resource_type.startswith("kubernetes:yaml")
        and ":" in resource_type[len("kubernetes:") :]
    )
