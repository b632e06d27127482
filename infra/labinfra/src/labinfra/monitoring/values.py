"""Helm values for the monitoring and logging charts, as pure functions of typed settings."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from labinfra.monitoring.integrations import LAB_CA_CONFIGMAP
from labinfra.stackconfig import ConfigModel

DASHBOARD_LABEL = "grafana_dashboard"
GRAFANA_ADMIN_SECRET = "grafana-admin"  # noqa: S105 (a Secret's name)
ALERTMANAGER_CONFIG_SECRET = "alertmanager-lab"  # noqa: S105 (a Secret's name)


class MonitoringSettings(ConfigModel):
    retention: str = Field(default="30d", pattern=r"^\d+[dwy]$")
    retention_size: str = Field(default="40GB", pattern=r"^\d+(MB|GB|TB)$")
    storage_size: str = Field(default="50Gi", pattern=r"^\d+(Mi|Gi|Ti)$")
    storage_class: str = "local-path"
    grafana_host: str | None = None
    scrape_interval: str = "30s"
    prometheus_replicas: int = Field(default=1, ge=1, le=5)
    """Prometheus replicas; the integrations' probe and scrape intervals are planned for them."""


class LoggingSettings(ConfigModel):
    retention: str = Field(default="744h", pattern=r"^\d+h$")
    storage_size: str = Field(default="20Gi", pattern=r"^\d+(Mi|Gi|Ti)$")
    storage_class: str = "local-path"


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }


def kube_prometheus_values(settings: MonitoringSettings, *, loki_url: str | None) -> dict[str, Any]:
    """Values for kube-prometheus-stack on k3s.

    k3s runs etcd, the scheduler, the controller-manager and kube-proxy inside one binary:
    the chart's targets for them find nothing to scrape, and pointing each at the one
    endpoint scrapes the same series four times. They are off, with their rules.
    """
    all_namespaces: dict[str, Any] = {}
    return {
        "crds": {"enabled": True},
        "defaultRules": {
            "create": True,
            "rules": {
                "etcd": False,
                "kubeSchedulerAlerting": False,
                "kubeSchedulerRecording": False,
                "kubeControllerManager": False,
                "kubeProxy": False,
            },
        },
        "kubeEtcd": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeControllerManager": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "prometheusOperator": {
            "resources": _resources("50m", "128Mi", "500m", "256Mi"),
        },
        "prometheus": {
            "prometheusSpec": {
                "replicas": settings.prometheus_replicas,
                "retention": settings.retention,
                "retentionSize": settings.retention_size,
                "scrapeInterval": settings.scrape_interval,
                "evaluationInterval": settings.scrape_interval,
                # Pick up the repo's own ServiceMonitors, rules and scrape configs in every
                # namespace, not only the ones labelled for this Helm release.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "scrapeConfigSelectorNilUsesHelmValues": False,
                "serviceMonitorNamespaceSelector": all_namespaces,
                "ruleNamespaceSelector": all_namespaces,
                "scrapeConfigNamespaceSelector": all_namespaces,
                "resources": _resources("200m", "1Gi", "1", "2Gi"),
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": settings.storage_class,
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": settings.storage_size}},
                        }
                    }
                },
            }
        },
        "alertmanager": {
            "alertmanagerSpec": {
                "useExistingSecret": True,
                "configSecret": ALERTMANAGER_CONFIG_SECRET,
                # Mounted at /etc/alertmanager/configmaps/lab-ca: the Home Assistant
                # receiver verifies its certificate with the lab CA (alertmanager.LAB_CA_FILE).
                "configMaps": [LAB_CA_CONFIGMAP.secret],
                "resources": _resources("20m", "64Mi", "200m", "128Mi"),
                "storage": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": settings.storage_class,
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        }
                    }
                },
            }
        },
        "grafana": _grafana_values(settings, loki_url),
        "kube-state-metrics": {"resources": _resources("20m", "64Mi", "200m", "128Mi")},
        # Every host, cluster nodes included, runs Ansible's node_exporter on 9100 (the
        # node_exporter role on `hosts: all`); the chart's DaemonSet would bind the same port
        # on the cluster nodes (hostNetwork, hostPort 9100) and crash-loop. It stays off and
        # the platform scrapes Ansible's exporters as job "node-exporter", the job the
        # chart's node rules select; the node dashboards are deployed anyway.
        "nodeExporter": {"enabled": False, "forceDeployDashboards": True},
    }


def _grafana_values(settings: MonitoringSettings, loki_url: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "admin": {
            "existingSecret": GRAFANA_ADMIN_SECRET,
            "userKey": "admin-user",
            "passwordKey": "admin-password",
        },
        "persistence": {
            "enabled": True,
            "storageClassName": settings.storage_class,
            "size": "2Gi",
        },
        "resources": _resources("50m", "128Mi", "500m", "256Mi"),
        "sidecar": {
            "dashboards": {
                "enabled": True,
                "label": DASHBOARD_LABEL,
                "labelValue": "1",
                "searchNamespace": "ALL",
                "folderAnnotation": "grafana_folder",
                "provider": {"foldersFromFilesStructure": True},
            }
        },
    }
    if loki_url:
        values["additionalDataSources"] = [
            {"name": "Loki", "type": "loki", "uid": "loki", "url": loki_url, "access": "proxy"}
        ]
    if settings.grafana_host:
        values["ingress"] = {
            "enabled": True,
            "ingressClassName": "traefik",
            "hosts": [settings.grafana_host],
        }
    return values


def loki_values(settings: LoggingSettings) -> dict[str, Any]:
    """Loki as one process with its index and chunks on a local volume."""
    return {
        "deploymentMode": "SingleBinary",
        "loki": {
            "auth_enabled": False,
            "commonConfig": {"replication_factor": 1},
            "storage": {"type": "filesystem"},
            "schemaConfig": {
                "configs": [
                    {
                        "from": "2024-04-01",
                        "store": "tsdb",
                        "object_store": "filesystem",
                        "schema": "v13",
                        "index": {"prefix": "loki_index_", "period": "24h"},
                    }
                ]
            },
            "limits_config": {"retention_period": settings.retention},
            "compactor": {"retention_enabled": True, "delete_request_store": "filesystem"},
        },
        "singleBinary": {
            "replicas": 1,
            "persistence": {
                "enabled": True,
                "size": settings.storage_size,
                "storageClass": settings.storage_class,
                # The chart defaults to deleting the StatefulSet's volume with it: keep
                # the stored logs when the release is replaced or removed.
                "enableStatefulSetAutoDeletePVC": False,
            },
            "resources": _resources("100m", "256Mi", "1", "1Gi"),
        },
        # The scalable targets and caches are for multi-node object storage setups.
        "read": {"replicas": 0},
        "write": {"replicas": 0},
        "backend": {"replicas": 0},
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "gateway": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "minio": {"enabled": False},
    }


def alloy_config(loki_push_url: str) -> str:
    """Alloy pipeline: this node's pod logs, labelled by namespace/pod/container, to Loki.

    Each agent of the DaemonSet keeps only pods on its own node (HOSTNAME is the node
    name in the chart's pod spec), so no line is shipped twice.
    """
    return f"""discovery.kubernetes "pods" {{
  role = "pod"
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets

  rule {{
    source_labels = ["__meta_kubernetes_pod_node_name"]
    regex         = sys.env("HOSTNAME")
    action        = "keep"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    target_label  = "app"
  }}
}}

loki.source.kubernetes "pods" {{
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.lab.receiver]
}}

loki.write "lab" {{
  endpoint {{
    url = "{loki_push_url}"
  }}
}}
"""


def alloy_values(loki_push_url: str) -> dict[str, Any]:
    return {
        "controller": {"type": "daemonset"},
        "alloy": {
            "configMap": {"create": True, "content": alloy_config(loki_push_url)},
            "resources": _resources("20m", "64Mi", "500m", "256Mi"),
        },
    }
