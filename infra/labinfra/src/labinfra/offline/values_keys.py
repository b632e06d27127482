"""The Helm values keys each pinned chart was checked to accept.

Helm ignores a values key the chart does not read, so a typo or a key renamed between
chart versions fails silently on the cluster. Each entry below records the keys the lab
sets, checked against that chart version's values.yaml/README/templates (sources in
infra/README.md, "Pins verified"). A listed path also admits everything below it: that
is how free-form maps (Loki config sections, Kubernetes `resources`, storage specs) are
covered. Bumping a chart's version without re-checking its keys fails the tests, because
the versions here must equal the pins in `labinfra.charts`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VerifiedKeys:
    version: str
    paths: frozenset[str]


def _keys(version: str, *paths: str) -> VerifiedKeys:
    return VerifiedKeys(version, frozenset(paths))


VERIFIED_VALUES_KEYS: dict[str, VerifiedKeys] = {
    "kube-prometheus-stack": _keys(
        "90.0.0",
        "crds.enabled",
        "defaultRules.create",
        "defaultRules.rules.etcd",
        "defaultRules.rules.kubeSchedulerAlerting",
        "defaultRules.rules.kubeSchedulerRecording",
        "defaultRules.rules.kubeControllerManager",
        "defaultRules.rules.kubeProxy",
        "kubeEtcd.enabled",
        "kubeScheduler.enabled",
        "kubeControllerManager.enabled",
        "kubeProxy.enabled",
        "prometheusOperator.resources",
        "prometheus.prometheusSpec.replicas",
        "prometheus.prometheusSpec.retention",
        "prometheus.prometheusSpec.retentionSize",
        "prometheus.prometheusSpec.scrapeInterval",
        "prometheus.prometheusSpec.evaluationInterval",
        "prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.probeSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.scrapeConfigSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.serviceMonitorNamespaceSelector",
        "prometheus.prometheusSpec.ruleNamespaceSelector",
        "prometheus.prometheusSpec.scrapeConfigNamespaceSelector",
        "prometheus.prometheusSpec.resources",
        "prometheus.prometheusSpec.storageSpec",
        "alertmanager.alertmanagerSpec.useExistingSecret",
        "alertmanager.alertmanagerSpec.configSecret",
        "alertmanager.alertmanagerSpec.configMaps",
        "alertmanager.alertmanagerSpec.resources",
        "alertmanager.alertmanagerSpec.storage",
        # The grafana subchart's keys, plus the parent chart's additionalDataSources.
        "grafana.admin.existingSecret",
        "grafana.admin.userKey",
        "grafana.admin.passwordKey",
        "grafana.persistence.enabled",
        "grafana.persistence.storageClassName",
        "grafana.persistence.size",
        "grafana.resources",
        "grafana.sidecar.dashboards.enabled",
        "grafana.sidecar.dashboards.label",
        "grafana.sidecar.dashboards.labelValue",
        "grafana.sidecar.dashboards.searchNamespace",
        "grafana.sidecar.dashboards.folderAnnotation",
        "grafana.sidecar.dashboards.provider.foldersFromFilesStructure",
        "grafana.additionalDataSources",
        "grafana.ingress.enabled",
        "grafana.ingress.ingressClassName",
        "grafana.ingress.hosts",
        "kube-state-metrics.resources",
        "prometheus-node-exporter.resources",
    ),
    "loki": _keys(
        "6.46.0",
        "deploymentMode",
        "loki.auth_enabled",
        "loki.commonConfig",
        "loki.storage.type",
        "loki.schemaConfig",
        "loki.limits_config",
        "loki.compactor",
        "singleBinary.replicas",
        "singleBinary.persistence.enabled",
        "singleBinary.persistence.size",
        "singleBinary.persistence.storageClass",
        "singleBinary.persistence.enableStatefulSetAutoDeletePVC",
        "singleBinary.resources",
        "read.replicas",
        "write.replicas",
        "backend.replicas",
        "chunksCache.enabled",
        "resultsCache.enabled",
        "gateway.enabled",
        "lokiCanary.enabled",
        "test.enabled",
        "minio.enabled",
    ),
    "alloy": _keys(
        "1.4.0",
        "controller.type",
        "alloy.configMap.create",
        "alloy.configMap.content",
        "alloy.resources",
    ),
    "gha-runner-scale-set-controller": _keys("0.13.0", "resources"),
    "gha-runner-scale-set": _keys(
        "0.13.0",
        "githubConfigUrl",
        "githubConfigSecret",
        "runnerScaleSetName",
        "minRunners",
        "maxRunners",
        "controllerServiceAccount.namespace",
        "controllerServiceAccount.name",
    ),
    "nfs-subdir-external-provisioner": _keys(
        "4.0.18",
        "nfs.server",
        "nfs.path",
        "storageClass.name",
        "storageClass.defaultClass",
        "storageClass.reclaimPolicy",
        "storageClass.archiveOnDelete",
        "resources",
    ),
}


def chart_short_name(chart: str) -> str:
    """`loki` for `loki`, `gha-runner-scale-set` for `oci://ghcr.io/.../gha-runner-scale-set`."""
    return chart.rstrip("/").rsplit("/", 1)[-1]


def value_paths(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of every leaf; lists and scalars are leaves, empty maps too."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from value_paths(value, f"{path}.")
        else:
            yield path


def _covered(path: str, allowed: frozenset[str]) -> bool:
    return any(path == a or path.startswith(f"{a}.") for a in allowed)


def unverified_values_keys(chart: str, version: str, values: Mapping[str, Any]) -> list[str]:
    """One line per values key of `chart` `version` that was not checked against the chart."""
    name = chart_short_name(chart)
    verified = VERIFIED_VALUES_KEYS.get(name)
    if verified is None:
        return [f"{name}: no values keys were checked for this chart"]
    if verified.version != version:
        return [
            f"{name} {version}: values keys were checked for {verified.version}, "
            "re-check them against the new version"
        ]
    return [
        f"{name} {version}: values key {path!r} was not checked against the chart"
        for path in value_paths(values)
        if not _covered(path, verified.paths)
    ]
