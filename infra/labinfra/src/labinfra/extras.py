"""Optional platform pieces: GitHub Actions runners in the lab, and NFS storage on TrueNAS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, model_validator

from labinfra.charts import ARC_CONTROLLER, ARC_RUNNER_SET, NFS_PROVISIONER
from labinfra.helm import helm_release
from labinfra.kube import child_options, secret
from labinfra.names import recommended_labels
from labinfra.stackconfig import ConfigModel

GITHUB_SECRET = "arc-github"  # noqa: S105 (a Secret's name)

ARC_UID = 65532
"""The controller image's user (actions-runner-controller Dockerfile at
gha-runner-scale-set-0.13.0: distroless/static:nonroot, `USER 65532:65532`); the listener
runs the same image (main.go line 294, DefaultRunnerScaleSetListenerImage = managerImage)."""
RUNNER_IMAGE = "ghcr.io/actions/actions-runner:2.328.0"
"""The chart's runner image is `ghcr.io/actions/actions-runner:latest` (values.yaml line 416);
2.328.0 is the runner version ARC 0.13.0 was released with (runner/VERSION at the tag)."""

RESTRICTED_POD = {
    "runAsNonRoot": True,
    "runAsUser": ARC_UID,
    "runAsGroup": ARC_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
"""Security contexts that meet the restricted Pod Security Standard. Chart 0.13.0 leaves the
controller's empty and the controller gives the listener none unless a listenerTemplate
does; both run in arc-system, which enforces restricted."""


class RunnerSettings(ConfigModel):
    enabled: bool = False
    github_config_url: str = Field(default="", pattern=r"^(https://github\.com/\S+)?$")
    scale_set_name: str = "lab"
    min_runners: int = Field(default=0, ge=0)
    max_runners: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> RunnerSettings:
        if self.enabled and not self.github_config_url:
            raise ValueError("githubConfigUrl is required when runners are enabled")
        if self.min_runners > self.max_runners:
            raise ValueError("minRunners is larger than maxRunners")
        return self


class NfsSettings(ConfigModel):
    enabled: bool = False
    server: str = ""
    path: str = ""
    storage_class: str = "truenas-nfs"

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> NfsSettings:
        if self.enabled and (not self.server or not self.path.startswith("/")):
            raise ValueError("nfs is enabled: set server and an absolute path")
        return self


@dataclass(frozen=True)
class RunnersArgs:
    controller_namespace: str
    runners_namespace: str
    settings: RunnerSettings
    github_token: pulumi.Input[str]


class Runners(pulumi.ComponentResource):
    """Actions Runner Controller and one runner scale set, so PR workflows run in the lab."""

    def __init__(
        self, name: str, args: RunnersArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:platform:Runners", name, None, opts)
        s = args.settings
        child = child_options(self, opts)
        controller = helm_release(
            f"{name}-controller",
            ARC_CONTROLLER,
            args.controller_namespace,
            controller_values(),
            child,
            release_name="arc",
        )
        github_secret = k8s.core.v1.Secret(
            f"{name}-github",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=GITHUB_SECRET,
                namespace=args.runners_namespace,
                labels=recommended_labels("arc-runners", "github-credentials"),
            ),
            string_data={"github_token": secret(args.github_token)},
            opts=child,
        )
        helm_release(
            f"{name}-scale-set",
            ARC_RUNNER_SET,
            args.runners_namespace,
            scale_set_values(s, args.controller_namespace),
            # The scale set registers with the controller's webhook: controller first.
            child_options(self, opts, [controller, github_secret]),
            release_name=s.scale_set_name,
        )
        self.register_outputs({})


def controller_values() -> dict[str, Any]:
    """Values of gha-runner-scale-set-controller 0.13.0 (keys in its values.yaml)."""
    return {
        "podSecurityContext": dict(RESTRICTED_POD),
        "securityContext": dict(RESTRICTED_CONTAINER),
        "resources": {
            "requests": {"cpu": "20m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
    }


def scale_set_values(settings: RunnerSettings, controller_namespace: str) -> dict[str, Any]:
    """Values of gha-runner-scale-set 0.13.0 (keys in its values.yaml or read by its
    templates, labinfra/upstream/charts/gha-runner-scale-set/0.13.0/chart.yaml)."""
    return {
        "githubConfigUrl": settings.github_config_url,
        "githubConfigSecret": GITHUB_SECRET,
        "runnerScaleSetName": settings.scale_set_name,
        "minRunners": settings.min_runners,
        "maxRunners": settings.max_runners,
        "controllerServiceAccount": {
            "namespace": controller_namespace,
            "name": "arc-gha-rs-controller",
        },
        # The listener pod runs in the controller's namespace (restricted).
        "listenerTemplate": {
            "spec": {
                "securityContext": dict(RESTRICTED_POD),
                "containers": [{"name": "listener", "securityContext": dict(RESTRICTED_CONTAINER)}],
            }
        },
        # The runner pod (arc-runners, baseline): the chart's own container with its image
        # pinned; a list replaces the chart's default list whole.
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "runner",
                        "image": RUNNER_IMAGE,
                        "command": ["/home/runner/run.sh"],
                    }
                ]
            }
        },
    }


def nfs_storage(
    name: str, namespace: str, settings: NfsSettings, opts: pulumi.ResourceOptions
) -> k8s.helm.v3.Release:
    """A storage class backed by an NFS export on TrueNAS (dynamic subdirectories)."""
    return helm_release(
        name,
        NFS_PROVISIONER,
        namespace,
        nfs_provisioner_values(settings),
        opts,
        release_name="nfs-provisioner",
    )


def nfs_provisioner_values(settings: NfsSettings) -> dict[str, Any]:
    return {
        "nfs": {"server": settings.server, "path": settings.path},
        "storageClass": {
            "name": settings.storage_class,
            "defaultClass": False,
            "reclaimPolicy": "Retain",
            "archiveOnDelete": True,
        },
        "resources": {
            "requests": {"cpu": "10m", "memory": "32Mi"},
            "limits": {"cpu": "100m", "memory": "64Mi"},
        },
    }
