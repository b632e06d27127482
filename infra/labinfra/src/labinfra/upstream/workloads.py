"""Pods that charts (and the controllers they install) create, built from the template facts
recorded in charts/<chart>/<version>/chart.yaml, so the Pod Security level of the namespace
they land in can be checked offline. Each function follows the template or source it names;
only the fields Pod Security looks at are built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Pod = tuple[dict[str, Any], dict[str, Any]]
"""(metadata, spec) of a pod."""


def arc_controller_pod(values: Mapping[str, Any]) -> Pod:
    """actions/actions-runner-controller gha-runner-scale-set-0.13.0,
    charts/gha-runner-scale-set-controller/templates/deployment.yaml: pod securityContext
    from `podSecurityContext`, the manager container's from `securityContext`, an emptyDir."""
    spec: dict[str, Any] = {
        "containers": [
            {"name": "manager", "image": "ghcr.io/actions/gha-runner-scale-set-controller"}
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if values.get("podSecurityContext"):
        spec["securityContext"] = dict(values["podSecurityContext"])
    if values.get("securityContext"):
        spec["containers"][0]["securityContext"] = dict(values["securityContext"])
    return {"annotations": dict(values.get("podAnnotations") or {})}, spec


def arc_listener_pod(scale_set_values: Mapping[str, Any]) -> Pod:
    """The listener pod the controller makes for a scale set, in the controller's namespace
    (controllers/actions.github.com/resourcebuilder.go at gha-runner-scale-set-0.13.0,
    newScaleSetListenerPod): one `listener` container without a securityContext and a
    Secret volume; `listenerTemplate` replaces the pod's securityContext and, for the
    container named `listener`, its securityContext (mergeListenerPodWithTemplate,
    mergeListenerContainer); other template containers are added as they are."""
    listener: dict[str, Any] = {
        "name": "listener",
        "image": "ghcr.io/actions/gha-runner-scale-set-controller",
    }
    spec: dict[str, Any] = {
        "containers": [listener],
        "volumes": [{"name": "listener-config", "secret": {"secretName": "listener-config"}}],
    }
    template = scale_set_values.get("listenerTemplate") or {}
    tmpl_spec = template.get("spec") or {}
    metadata = {"annotations": dict((template.get("metadata") or {}).get("annotations") or {})}
    for container in tmpl_spec.get("containers") or []:
        if container.get("name") == "listener":
            if "securityContext" in container:
                listener["securityContext"] = container["securityContext"]
        else:
            spec["containers"].append(dict(container))
    for key in ("securityContext", "hostNetwork", "hostPID", "hostIPC", "initContainers", "os"):
        if tmpl_spec.get(key) is not None:
            spec[key] = tmpl_spec[key]
    spec["volumes"] += list(tmpl_spec.get("volumes") or [])
    return metadata, spec


def node_exporter_pod(values: Mapping[str, Any]) -> Pod:
    """prometheus-community/helm-charts prometheus-node-exporter-4.56.1,
    templates/daemonset.yaml: hostNetwork/hostPID from values, the exporter container's
    containerPort and hostPort both `service.port` (lines 272-275)."""
    port = int((values.get("service") or {}).get("port") or 9100)
    spec: dict[str, Any] = {
        "hostNetwork": bool(values.get("hostNetwork")),
        "hostPID": bool(values.get("hostPID")),
        "containers": [
            {
                "name": "node-exporter",
                "image": "quay.io/prometheus/node-exporter",
                "ports": [{"name": "metrics", "containerPort": port, "hostPort": port}],
                "securityContext": dict(values.get("containerSecurityContext") or {}),
            }
        ],
    }
    return {}, spec


def host_ports(pod: Pod) -> set[int]:
    """The node ports a pod binds: hostPorts, and every container port with hostNetwork."""
    _, spec = pod
    ports: set[int] = set()
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ports.add(int(port["hostPort"]))
            elif spec.get("hostNetwork"):
                ports.add(int(port["containerPort"]))
    return ports
