"""The Pod Security Standards, `baseline` and `restricted`, as Kubernetes 1.33 enforces them.

Each check follows the Pod Security admission check of the same id in
kubernetes/pod-security-admission at tag v0.33.5 (`policy/check_*.go`, the newest version
of each check at or below 1.33), field by field, including what it exempts (Windows pods
for the restricted capability, seccomp and privilege-escalation checks). The upstream
fixtures of that release (`tests/fixtures/pss/`) are the test: every pod admitted there is
accepted here and every pod refused there is refused here.

Input is a pod's metadata and spec in API form (camelCase keys, as Pulumi records them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["privileged", "baseline", "restricted"]
Props = Mapping[str, Any]

_ALLOWED_CAPABILITIES_BASELINE = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
_SAFE_SYSCTLS = frozenset(  # check_sysctls.go, sysctlsAllowedV1Dot32
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    }
)
_SELINUX_TYPES = frozenset(  # check_seLinuxOptions.go, selinuxAllowedTypes1_31
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
_RESTRICTED_VOLUMES = frozenset(  # check_restrictedVolumes.go
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_VALID_PROFILE_TYPES = ("RuntimeDefault", "Localhost")


@dataclass(frozen=True)
class Violation:
    check: str
    """The Pod Security admission check id (e.g. `runAsNonRoot`)."""
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


def _containers(spec: Props) -> Iterator[Props]:
    """Init, regular and ephemeral containers, in that order (visitor.go)."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _ctx(obj: Props) -> Props:
    return obj.get("securityContext") or {}


def _names(items: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in items)


def _windows(spec: Props) -> bool:
    return (spec.get("os") or {}).get("name") == "windows"


Check = Callable[[Props, Props], str | None]


def _windows_host_process(meta: Props, spec: Props) -> str | None:
    bad = [
        c["name"]
        for c in _containers(spec)
        if (_ctx(c).get("windowsOptions") or {}).get("hostProcess") is True
    ]
    pod = (_ctx(spec).get("windowsOptions") or {}).get("hostProcess") is True
    if pod or bad:
        who = ["pod"] if pod else []
        who += [f"containers {_names(bad)}"] if bad else []
        return f"{' and '.join(who)} must not set securityContext.windowsOptions.hostProcess=true"
    return None


def _host_namespaces(meta: Props, spec: Props) -> str | None:
    on = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    return ", ".join(on) if on else None


def _privileged(meta: Props, spec: Props) -> str | None:
    bad = [c["name"] for c in _containers(spec) if _ctx(c).get("privileged") is True]
    return f"containers {_names(bad)} must not set securityContext.privileged=true" if bad else None


def _capabilities_baseline(meta: Props, spec: Props) -> str | None:
    added = {
        cap
        for c in _containers(spec)
        for cap in (_ctx(c).get("capabilities") or {}).get("add") or []
        if cap not in _ALLOWED_CAPABILITIES_BASELINE
    }
    return f"non-default capabilities {sorted(added)}" if added else None


def _host_path_volumes(meta: Props, spec: Props) -> str | None:
    bad = [v["name"] for v in spec.get("volumes") or [] if v.get("hostPath") is not None]
    return f"hostPath volumes {_names(bad)}" if bad else None


def _host_ports(meta: Props, spec: Props) -> str | None:
    ports = sorted(
        {
            p["hostPort"]
            for c in _containers(spec)
            for p in c.get("ports") or []
            if p.get("hostPort")
        }
    )
    return f"hostPort {ports}" if ports else None


def _apparmor(meta: Props, spec: Props) -> str | None:
    bad = []
    pod_type = (_ctx(spec).get("appArmorProfile") or {}).get("type")
    if pod_type is not None and pod_type not in _VALID_PROFILE_TYPES:
        bad.append(f"pod appArmorProfile {pod_type}")
    for c in _containers(spec):
        kind = (_ctx(c).get("appArmorProfile") or {}).get("type")
        if kind is not None and kind not in _VALID_PROFILE_TYPES:
            bad.append(f'container "{c["name"]}" appArmorProfile {kind}')
    for key, value in (meta.get("annotations") or {}).items():
        if key.startswith(_APPARMOR_ANNOTATION) and not (
            value in ("", "runtime/default") or str(value).startswith("localhost/")
        ):
            bad.append(f"annotation {key}={value}")
    return "forbidden AppArmor profiles: " + "; ".join(bad) if bad else None


def _selinux(meta: Props, spec: Props) -> str | None:
    def bad(options: Props | None) -> bool:
        if options is None:
            return False
        return (
            options.get("type", "") not in _SELINUX_TYPES
            or bool(options.get("user"))
            or bool(options.get("role"))
        )

    who = ["pod"] if bad(_ctx(spec).get("seLinuxOptions")) else []
    who += [
        f'container "{c["name"]}"' for c in _containers(spec) if bad(_ctx(c).get("seLinuxOptions"))
    ]
    return f"{', '.join(who)} set forbidden securityContext.seLinuxOptions" if who else None


def _proc_mount(meta: Props, spec: Props) -> str | None:
    bad = [
        c["name"] for c in _containers(spec) if _ctx(c).get("procMount") not in (None, "Default")
    ]
    return f"containers {_names(bad)} must not set securityContext.procMount" if bad else None


def _seccomp_explicit(spec: Props) -> list[str]:
    who = []
    pod = (_ctx(spec).get("seccompProfile") or {}).get("type")
    if pod is not None and pod not in _VALID_PROFILE_TYPES:
        who.append("pod")
    for c in _containers(spec):
        kind = (_ctx(c).get("seccompProfile") or {}).get("type")
        if kind is not None and kind not in _VALID_PROFILE_TYPES:
            who.append(f'container "{c["name"]}"')
    return who


def _seccomp_baseline(meta: Props, spec: Props) -> str | None:
    who = _seccomp_explicit(spec)
    return f"{', '.join(who)} must not set seccompProfile.type to Unconfined" if who else None


def _sysctls(meta: Props, spec: Props) -> str | None:
    bad = [
        s.get("name") for s in _ctx(spec).get("sysctls") or [] if s.get("name") not in _SAFE_SYSCTLS
    ]
    return f"forbidden sysctls {bad}" if bad else None


def _restricted_volumes(meta: Props, spec: Props) -> str | None:
    bad = []
    for volume in spec.get("volumes") or []:
        sources = {k for k, v in volume.items() if k != "name" and v is not None}
        # A volume without a source is an emptyDir once the API server defaults it.
        if sources and not sources & _RESTRICTED_VOLUMES:
            bad.append(f'"{volume.get("name")}" ({", ".join(sorted(sources)) or "no source"})')
    return f"restricted volume types: {', '.join(bad)}" if bad else None


def _allow_privilege_escalation(meta: Props, spec: Props) -> str | None:
    if _windows(spec):
        return None
    bad = [
        c["name"] for c in _containers(spec) if _ctx(c).get("allowPrivilegeEscalation") is not False
    ]
    return (
        f"containers {_names(bad)} must set securityContext.allowPrivilegeEscalation=false"
        if bad
        else None
    )


def _run_as_non_root(meta: Props, spec: Props) -> str | None:
    pod = _ctx(spec).get("runAsNonRoot")
    if pod is False:
        return "pod must not set securityContext.runAsNonRoot=false"
    explicit = [c["name"] for c in _containers(spec) if _ctx(c).get("runAsNonRoot") is False]
    if explicit:
        return f"containers {_names(explicit)} must not set securityContext.runAsNonRoot=false"
    implicit = [
        c["name"]
        for c in _containers(spec)
        if _ctx(c).get("runAsNonRoot") is None and pod is not True
    ]
    if implicit:
        return f"pod or containers {_names(implicit)} must set securityContext.runAsNonRoot=true"
    return None


def _run_as_user(meta: Props, spec: Props) -> str | None:
    who = ["pod"] if _ctx(spec).get("runAsUser") == 0 else []
    who += [f'container "{c["name"]}"' for c in _containers(spec) if _ctx(c).get("runAsUser") == 0]
    return f"{', '.join(who)} must not set runAsUser=0" if who else None


def _seccomp_restricted(meta: Props, spec: Props) -> str | None:
    if _windows(spec):
        return None
    explicit = _seccomp_explicit(spec)
    if explicit:
        return f"{', '.join(explicit)} must not set seccompProfile.type to Unconfined"
    pod_set = (_ctx(spec).get("seccompProfile") or {}).get("type") in _VALID_PROFILE_TYPES
    implicit = [
        c["name"]
        for c in _containers(spec)
        if _ctx(c).get("seccompProfile") is None and not pod_set
    ]
    if implicit:
        return (
            f"pod or containers {_names(implicit)} must set securityContext.seccompProfile.type"
            ' to "RuntimeDefault" or "Localhost"'
        )
    return None


def _capabilities_restricted(meta: Props, spec: Props) -> str | None:
    if _windows(spec):
        return None
    problems = []
    missing = [
        c["name"]
        for c in _containers(spec)
        if "ALL" not in ((_ctx(c).get("capabilities") or {}).get("drop") or [])
    ]
    if missing:
        problems.append(
            f'containers {_names(missing)} must set securityContext.capabilities.drop=["ALL"]'
        )
    added = sorted(
        {
            cap
            for c in _containers(spec)
            for cap in (_ctx(c).get("capabilities") or {}).get("add") or []
            if cap != "NET_BIND_SERVICE"
        }
    )
    if added:
        problems.append(f"capabilities.add may hold NET_BIND_SERVICE only, not {added}")
    return "; ".join(problems) or None


BASELINE: dict[str, Check] = {
    "windowsHostProcess": _windows_host_process,
    "hostNamespaces": _host_namespaces,
    "privileged": _privileged,
    "capabilities_baseline": _capabilities_baseline,
    "hostPathVolumes": _host_path_volumes,
    "hostPorts": _host_ports,
    "appArmorProfile": _apparmor,
    "seLinuxOptions": _selinux,
    "procMount": _proc_mount,
    "seccompProfile_baseline": _seccomp_baseline,
    "sysctls": _sysctls,
}
RESTRICTED: dict[str, Check] = {
    "restrictedVolumes": _restricted_volumes,
    "allowPrivilegeEscalation": _allow_privilege_escalation,
    "runAsNonRoot": _run_as_non_root,
    "runAsUser": _run_as_user,
    "seccompProfile_restricted": _seccomp_restricted,
    "capabilities_restricted": _capabilities_restricted,
}
OVERRIDDEN_BY_RESTRICTED = {
    # Restricted checks that replace a baseline check (their OverrideCheckIDs).
    "restrictedVolumes": "hostPathVolumes",
    "seccompProfile_restricted": "seccompProfile_baseline",
    "capabilities_restricted": "capabilities_baseline",
}


def checks(level: Level) -> dict[str, Check]:
    if level == "privileged":
        return {}
    if level == "baseline":
        return dict(BASELINE)
    replaced = set(OVERRIDDEN_BY_RESTRICTED.values())
    return {**{k: v for k, v in BASELINE.items() if k not in replaced}, **RESTRICTED}


def violations(metadata: Props, spec: Props, level: Level) -> list[Violation]:
    """What keeps a pod with this metadata and spec out of a namespace at `level`."""
    found = []
    for check_id, check in checks(level).items():
        detail = check(metadata, spec)
        if detail:
            found.append(Violation(check_id, detail))
    return found
