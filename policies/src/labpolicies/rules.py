"""Each rule: (resource type, properties) -> list of violation messages. Pure and testable."""

from __future__ import annotations

import re
from collections.abc import Callable

from labpolicies import pss
from labpolicies.workloads import (
    Props,
    containers,
    is_kubernetes_object,
    kind_of,
    labels,
    name,
    pod_metadata,
    pod_spec,
)

Rule = Callable[[str, Props], list[str]]

ALLOWED_REGISTRIES = (
    "registry.lab.internal",
    "docker.io",
    "quay.io",
    "ghcr.io",
    "registry.k8s.io",
)
"""The lab's private registry first; upstream registries the platform's charts pull from."""

EXTERNAL_SERVICE_ALLOWLIST: tuple[str, ...] = ("graphite-exporter-ingest",)
"""Names of Services allowed to be LoadBalancer or NodePort (k3s's Traefik is not ours).

`graphite-exporter-ingest`: TrueNAS, outside the cluster, pushes Graphite plaintext (TCP,
not HTTP, so not through the Ingress) to the platform's graphite_exporter. An allow-listed
LoadBalancer must still name who may connect (`loadBalancerSourceRanges`, which k3s's
ServiceLB enforces), never the whole Internet.
"""

RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_TAG = re.compile(r":([\w][\w.\-]{0,127})$")
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.\-]+)?$")


def _image_problem(image: str) -> str | None:
    registry = image.split("/", 1)[0] if "/" in image else ""
    if registry not in ALLOWED_REGISTRIES:
        return f"image {image!r} is not from an allowed registry ({', '.join(ALLOWED_REGISTRIES)})"
    if _DIGEST.search(image):
        return None
    tag = _TAG.search(image.split("/", 1)[1])
    if tag is None or tag.group(1) == "latest":
        return f"image {image!r} is not pinned (use a version tag or a sha256 digest)"
    return None


def pinned_images(resource_type: str, props: Props) -> list[str]:
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    problems = []
    for c in containers(spec):
        problem = _image_problem(str(c.get("image") or ""))
        if problem:
            problems.append(f"container {c.get('name')!r}: {problem}")
    return problems


def requests_and_limits(resource_type: str, props: Props) -> list[str]:
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    problems = []
    for c in containers(spec):
        resources = c.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        missing = [f"requests.{r}" for r in ("cpu", "memory") if r not in requests]
        missing += ["limits.memory"] if "memory" not in limits else []
        if missing:
            problems.append(f"container {c.get('name')!r}: missing {', '.join(missing)}")
    return problems


def restricted_pod_security(resource_type: str, props: Props) -> list[str]:
    """The Pod Security Standard `restricted`, exactly as Kubernetes 1.33 enforces it
    (labpolicies.pss, tested against Kubernetes' own fixtures)."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    return [str(v) for v in pss.violations(pod_metadata(resource_type, props), spec, "restricted")]


def probes(resource_type: str, props: Props) -> list[str]:
    spec = pod_spec(resource_type, props)
    if spec is None or kind_of(resource_type) in ("Job", "CronJob"):
        return []
    return [
        f"container {c.get('name')!r}: no {probe}"
        for c in spec.get("containers") or []
        for probe in ("livenessProbe", "readinessProbe")
        if not c.get(probe)
    ]


def no_external_services(resource_type: str, props: Props) -> list[str]:
    if kind_of(resource_type) != "Service":
        return []
    spec = props.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    if kind not in ("LoadBalancer", "NodePort"):
        return []
    if name(props) not in EXTERNAL_SERVICE_ALLOWLIST:
        return [f"Service {name(props)!r} is {kind}; expose it through the Ingress instead"]
    ranges = spec.get("loadBalancerSourceRanges") or []
    if kind == "NodePort" or not ranges:
        return [f"Service {name(props)!r} is {kind} without loadBalancerSourceRanges"]
    if any(r.endswith("/0") for r in ranges):
        return [f"Service {name(props)!r} is open to every address ({', '.join(ranges)})"]
    return []


def recommended_labels(resource_type: str, props: Props) -> list[str]:
    if not is_kubernetes_object(resource_type) or "metadata" not in props:
        return []
    missing = [label for label in RECOMMENDED_LABELS if not labels(props).get(label)]
    return [f"missing recommended labels: {', '.join(missing)}"] if missing else []


def pinned_helm_charts(resource_type: str, props: Props) -> list[str]:
    if not (resource_type.startswith("kubernetes:helm.sh/") and resource_type.endswith(":Release")):
        return []
    chart = str(props.get("chart") or "")
    version = str(props.get("version") or "")
    repo = str((props.get("repositoryOpts") or {}).get("repo") or "")
    problems = []
    if not _EXACT_VERSION.match(version):
        problems.append(f"chart {chart!r}: version {version!r} is not an exact version")
    if chart.startswith("oci://"):
        if repo:
            problems.append(f"chart {chart!r}: an oci:// chart takes no repository")
    elif not repo.startswith("https://"):
        problems.append(f"chart {chart!r}: repository {repo!r} is not https or oci")
    return problems


def prometheus_retention(resource_type: str, props: Props) -> list[str]:
    if kind_of(resource_type) == "Prometheus":
        spec = props.get("spec") or {}
    elif resource_type.endswith(":Release") and props.get("chart") == "kube-prometheus-stack":
        spec = ((props.get("values") or {}).get("prometheus") or {}).get("prometheusSpec") or {}
    else:
        return []
    missing = [key for key in ("retention", "retentionSize") if not spec.get(key)]
    return [f"Prometheus {', '.join(missing)} not set"] if missing else []
