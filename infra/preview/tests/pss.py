"""Pod Security Standards, `restricted` profile (Kubernetes docs "Pod Security Standards",
v1.33): the checks a namespace labelled `enforce: restricted` applies to a pod spec."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def pod_specs(obj: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        yield spec
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        yield spec["template"]["spec"]
    elif kind == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]


def violations(pod: Mapping[str, Any]) -> list[str]:
    found = [f"{h} is set" for h in ("hostNetwork", "hostPID", "hostIPC") if pod.get(h)]
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            found.append(f"volume {volume['name']}: {sorted(kinds)} not allowed")
    pod_ctx = pod.get("securityContext") or {}
    if (pod_ctx.get("seccompProfile") or {}).get("type") not in (
        None,
        "RuntimeDefault",
        "Localhost",
    ):
        found.append("pod seccompProfile not RuntimeDefault/Localhost")
    for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        ctx = c.get("securityContext") or {}
        who = c["name"]
        if ctx.get("privileged"):
            found.append(f"{who}: privileged")
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(f"{who}: allowPrivilegeEscalation is not false")
        caps = ctx.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            found.append(f"{who}: capabilities not dropped")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"{who}: adds capabilities")
        if ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is not True:
            found.append(f"{who}: runAsNonRoot is not true")
        if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
            found.append(f"{who}: runs as root")
        seccomp = (ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{who}: no RuntimeDefault seccomp profile")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            found.append(f"{who}: hostPort")
    return found
