"""DeviceApp: one of the lab's small device services running on Kubernetes.

Deployment + Service + ServiceMonitor (+ PodDisruptionBudget when more than one replica),
hardened to the `restricted` Pod Security Standard, probed on the app's health endpoint,
scraped on its metrics endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from labinfra.kube import check_pinned_image, child_options, restricted_container_security
from labinfra.names import recommended_labels, selector_labels

JOB_LABEL = "lab.internal/scrape-job"
"""The Service label whose value the ServiceMonitor makes the series' `job` label.

Without `jobLabel` the operator sets `job` to the Service's name
(prometheus-operator v0.93.0, pkg/prometheus/promcfg.go, generateServiceMonitorConfig),
so an exporter deployed as `picotemp-dome` would escape rules that select `job="picotemp"`.
"""


@dataclass(frozen=True)
class Resources:
    cpu_request: str = "10m"
    memory_request: str = "32Mi"
    cpu_limit: str = "200m"
    memory_limit: str = "128Mi"


@dataclass(frozen=True)
class SecretEnv:
    """An environment variable read from a key of a Secret in the app's namespace."""

    secret: str
    key: str


@dataclass(frozen=True)
class DeviceAppArgs:
    app: str
    namespace: pulumi.Input[str]
    image: str
    """Pinned by digest or version tag, from the lab's private registry."""
    port: int
    version: str
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_env: Mapping[str, SecretEnv] = field(default_factory=dict)
    metrics_path: str = "/metrics"
    health_path: str = "/healthz"
    replicas: int = 1
    resources: Resources = field(default_factory=Resources)
    image_pull_secret: str | None = None
    scrape_interval: str = "30s"
    run_as_user: int = 65532
    service_monitor: bool = True
    component: str = "device-service"
    job: str | None = None
    """The `job` label of its series (what its alert rules select); the app's name if None."""

    def __post_init__(self) -> None:
        check_pinned_image(self.image)
        if not 0 < self.port < 65536:
            raise ValueError(f"{self.app}: port {self.port} out of range")
        if self.replicas < 1:
            raise ValueError(f"{self.app}: replicas must be at least 1")


class DeviceApp(pulumi.ComponentResource):
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    service_monitor: k8s.apiextensions.CustomResource | None
    disruption_budget: k8s.policy.v1.PodDisruptionBudget | None

    def __init__(
        self, name: str, args: DeviceAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:apps:DeviceApp", name, None, opts)
        self._args = args
        self._labels = recommended_labels(args.app, args.component, version=args.version)
        self._selector = selector_labels(args.app)
        child = child_options(self, opts)
        self.deployment = self._deployment(name, child)
        self.service = self._service(name, child)
        self.service_monitor = self._service_monitor(name, child)
        self.disruption_budget = self._disruption_budget(name, child)
        self.register_outputs(
            {"deployment": self.deployment.metadata.name, "service": self.service.metadata.name}
        )

    def _metadata(self) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=self._args.app, namespace=self._args.namespace, labels=self._labels
        )

    def _deployment(self, name: str, opts: pulumi.ResourceOptions) -> k8s.apps.v1.Deployment:
        a = self._args
        probe = k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path=a.health_path, port="http"),
            period_seconds=10,
            timeout_seconds=3,
            failure_threshold=3,
        )
        container = k8s.core.v1.ContainerArgs(
            name=a.app,
            image=a.image,
            image_pull_policy="IfNotPresent",
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=a.port)],
            env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(a.env.items())]
            + [
                k8s.core.v1.EnvVarArgs(
                    name=k,
                    value_from=k8s.core.v1.EnvVarSourceArgs(
                        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=s.secret, key=s.key)
                    ),
                )
                for k, s in sorted(a.secret_env.items())
            ],
            liveness_probe=probe,
            readiness_probe=probe,
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": a.resources.cpu_request, "memory": a.resources.memory_request},
                limits={"cpu": a.resources.cpu_limit, "memory": a.resources.memory_limit},
            ),
            security_context=restricted_container_security(),
            # A read-only root filesystem still needs somewhere for temporary files.
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],  # noqa: S108
        )
        return k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=self._metadata(),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=a.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        containers=[container],
                        image_pull_secrets=(
                            [k8s.core.v1.LocalObjectReferenceArgs(name=a.image_pull_secret)]
                            if a.image_pull_secret
                            else None
                        ),
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=a.run_as_user,
                            run_as_group=a.run_as_user,
                            fs_group=a.run_as_user,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="tmp",
                                empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="16Mi"),
                            )
                        ],
                    ),
                ),
            ),
            opts=opts,
        )

    def _service(self, name: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Service:
        a = self._args
        return k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=a.app,
                namespace=a.namespace,
                labels={**self._labels, JOB_LABEL: a.job or a.app},
            ),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=self._selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http", port=self._args.port, target_port="http"
                    )
                ],
            ),
            opts=opts,
        )

    def _service_monitor(
        self, name: str, opts: pulumi.ResourceOptions
    ) -> k8s.apiextensions.CustomResource | None:
        a = self._args
        if not a.service_monitor:
            return None
        return k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=self._metadata(),
            spec={
                "jobLabel": JOB_LABEL,
                "selector": {"matchLabels": self._selector},
                "endpoints": [
                    {"port": "http", "path": a.metrics_path, "interval": a.scrape_interval}
                ],
            },
            # The Service must exist first, or the first scrape cycle finds no endpoints.
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[self.service])
            ),
        )

    def _disruption_budget(
        self, name: str, opts: pulumi.ResourceOptions
    ) -> k8s.policy.v1.PodDisruptionBudget | None:
        # With one replica a budget of min 1 would block node drains forever.
        if self._args.replicas < 2:
            return None
        return k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=self._metadata(),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                min_available=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
            ),
            opts=opts,
        )
