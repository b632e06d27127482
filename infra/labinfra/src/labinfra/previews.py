"""What the platform gives pull-request previews: the CloudNativePG operator, the preview
domain's wildcard certificate, and the janitor CronJob with the RBAC it needs.

The preview program (infra/preview, one stack per pull request) reads
`previewTlsCertPem`/`previewTlsKeyPem` through its StackReference to the platform, creates
CloudNativePG `Cluster`s whose CRDs and webhook the operator release below installs, and
allows ingress to its PostgreSQL pods from `CNPG_NAMESPACE` only. The janitor
(apps/janitor) runs here every 6 hours by default and may do exactly what its code calls
(labjanitor.kube) and nothing more; because RBAC cannot limit `delete namespaces` to
previews, an admission policy (labinfra.janitor_guard) refuses its deletes and changes of
any namespace without the preview labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, field_validator, model_validator

from labinfra.charts import CLOUDNATIVE_PG
from labinfra.helm import helm_release
from labinfra.janitor_guard import POLICY_NAME, binding_spec, policy_spec, service_account_username
from labinfra.kube import check_pinned_image, child_options, restricted_namespace, secret
from labinfra.names import recommended_labels
from labinfra.registry import CaKeyPair
from labinfra.stackconfig import ConfigModel

JANITOR_NAMESPACE = "preview-system"
CNPG_NAMESPACE = "cnpg-system"
"""The preview program's NetworkPolicy lets this namespace reach PostgreSQL pods
(labpreview.plan.Context.cnpg_namespace): the same name, checked by a test."""
JANITOR = "preview-janitor"
"""The CronJob's name: the janitor's alert rules and runbook select it."""
JANITOR_GITHUB_SECRET = "preview-janitor-github"  # noqa: S105 (a Secret's name)
JANITOR_CACHE = "preview-janitor-etags"
"""The ConfigMap that keeps GitHub ETags between runs (labjanitor.cli, cache_configmap)."""
JANITOR_UID = 10002
"""The janitor image's user (apps/janitor/Dockerfile: `USER 10002:10002`)."""
CNPG_OPERATOR_TAG = "1.30.0"
"""The operator image ghcr.io/cloudnative-pg/cloudnative-pg: the chart's appVersion, named
explicitly so that a chart bump cannot change the operator unnoticed."""


class PreviewSettings(ConfigModel):
    """`previews:` in the platform's stack config."""

    enabled: bool = False
    domain: str = Field(default="", pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.|$))*$")
    """The preview domain: environments are served at https://<namespace>.<domain>, so a
    wildcard DNS record `*.<domain>` must point at the cluster's ingress."""
    janitor_image: str = "registry.lab.internal/lab/janitor:0.1.0"
    janitor_schedule: str = Field(default="0 */6 * * *", pattern=r"^\S+( \S+){4}$")
    janitor_deadline_seconds: int = Field(default=1800, ge=60, le=6 * 3600)
    janitor_dry_run: bool = False
    max_preserved: int = Field(default=3, ge=0)
    github_reserve: int = Field(default=100, ge=0)
    cert_validity_hours: int = Field(default=24 * 365, ge=24 * 31)
    """More than the 30 days' early renewal (CaKeyPair.issue), or every run would renew."""
    cloudnative_pg: bool = True
    """Install the CloudNativePG operator (previews with `databases.postgresql` need it)."""

    @field_validator("janitor_image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        return check_pinned_image(value)

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> PreviewSettings:
        if self.enabled and not self.domain:
            raise ValueError("previews are enabled: set domain (the preview domain)")
        return self


def cloudnative_pg_values() -> dict[str, Any]:
    """Values of the cloudnative-pg chart 0.29.0 (keys in its values.yaml, vendored under
    labinfra/upstream/charts/cloudnative-pg/0.29.0 with its values.schema.json). The chart's
    security contexts meet restricted already and are kept."""
    return {
        "image": {"tag": CNPG_OPERATOR_TAG},
        "crds": {"create": True},
        "config": {"clusterWide": True},
        "resources": {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
    }


def janitor_rules() -> Any:
    """Cluster-wide rules: exactly the calls labjanitor.kube makes across namespaces."""
    return [
        # preview_namespaces (list), delete_namespace, patch_namespace (unpreserve, sleep).
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "patch", "delete"]},
        # sleep: list the workloads of a namespace, then set their scale to zero.
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["list"]},
        {
            "apiGroups": ["apps"],
            "resources": ["deployments/scale", "statefulsets/scale"],
            "verbs": ["patch"],
        },
        # sleep: CloudNativePG's declarative hibernation annotation on each Cluster.
        {
            "apiGroups": ["postgresql.cnpg.io"],
            "resources": ["clusters"],
            "verbs": ["list", "patch"],
        },
    ]


def janitor_cache_rules() -> Any:
    """In its own namespace only: read and replace its ETag ConfigMap, create it once
    (`create` cannot be limited to a name: RBAC has no object name before creation)."""
    return [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [JANITOR_CACHE],
            "verbs": ["get", "update"],
        },
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    ]


def janitor_env(settings: PreviewSettings) -> list[dict[str, Any]]:
    """The janitor's settings (labjanitor.cli.JanitorSettings, `JANITOR_` prefix)."""
    plain = {
        "JANITOR_DRY_RUN": "true" if settings.janitor_dry_run else "false",
        "JANITOR_MAX_PRESERVED": str(settings.max_preserved),
        "JANITOR_GITHUB_RESERVE": str(settings.github_reserve),
        "JANITOR_CACHE_NAMESPACE": JANITOR_NAMESPACE,
        "JANITOR_CACHE_CONFIGMAP": JANITOR_CACHE,
        "JANITOR_LOG_LEVEL": "INFO",
    }
    return [{"name": k, "value": v} for k, v in plain.items()] + [
        {
            "name": "JANITOR_GITHUB_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": JANITOR_GITHUB_SECRET, "key": "token"}},
        }
    ]


def janitor_cronjob_spec(settings: PreviewSettings) -> Any:
    """The CronJob's spec as a plain map (typed Any: mypy, matching this literal against
    pulumi-kubernetes' CronJob overloads, ran out of 24 GiB; the tests validate the
    recorded object against the Kubernetes schema instead)."""
    labels = recommended_labels(JANITOR, "janitor")
    return {
        "schedule": settings.janitor_schedule,
        "timeZone": "Etc/UTC",
        # Never two runs at once: a second run would decide on what the first is changing.
        "concurrencyPolicy": "Forbid",
        # A run that could not start on time (API server down) still starts within an hour.
        "startingDeadlineSeconds": 3600,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "metadata": {"labels": labels},
            "spec": {
                "activeDeadlineSeconds": settings.janitor_deadline_seconds,
                # One retry for a transient failure; a second failure waits for the next
                # schedule and raises PreviewJanitorFailing.
                "backoffLimit": 1,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": JANITOR,
                        "automountServiceAccountToken": True,
                        "restartPolicy": "Never",
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": JANITOR_UID,
                            "runAsGroup": JANITOR_UID,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [
                            {
                                "name": "janitor",
                                "image": settings.janitor_image,
                                "imagePullPolicy": "IfNotPresent",
                                "env": janitor_env(settings),
                                "resources": {
                                    "requests": {"cpu": "50m", "memory": "128Mi"},
                                    "limits": {"cpu": "500m", "memory": "256Mi"},
                                },
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "runAsNonRoot": True,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
                            }
                        ],
                        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                    },
                },
            },
        },
    }


@dataclass(frozen=True)
class PreviewPlatformArgs:
    settings: PreviewSettings
    ca: CaKeyPair
    janitor_github_token: pulumi.Input[str]


class PreviewPlatform(pulumi.ComponentResource):
    """The platform's part of pull-request previews (`previews.enabled`)."""

    tls_cert_pem: pulumi.Output[str]
    tls_key_pem: pulumi.Output[str]
    namespaces: dict[str, k8s.core.v1.Namespace]
    """The namespaces it creates (the platform adds its stack-wide policies to them)."""

    def __init__(
        self, name: str, args: PreviewPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:platform:PreviewPlatform", name, None, opts)
        s = args.settings
        child = child_options(self, opts)
        janitor_ns = restricted_namespace(f"{name}-namespace", JANITOR_NAMESPACE, child)
        self.namespaces = {JANITOR_NAMESPACE: janitor_ns}
        inside = child_options(self, opts, [janitor_ns])
        if s.cloudnative_pg:
            cnpg_ns = restricted_namespace(f"{name}-cnpg-namespace", CNPG_NAMESPACE, child)
            self.namespaces[CNPG_NAMESPACE] = cnpg_ns
            helm_release(
                f"{name}-cloudnative-pg",
                CLOUDNATIVE_PG,
                CNPG_NAMESPACE,
                cloudnative_pg_values(),
                child_options(self, opts, [cnpg_ns]),
                release_name="cnpg",
            )

        # The wildcard certificate every preview's Ingress serves (the preview program
        # copies it into its namespace's `preview-tls` Secret). One label below the domain
        # is what the preview hosts use: <namespace>.<domain>, <app>-<namespace>.<domain>.
        key, cert = args.ca.issue(
            f"{name}-tls", [f"*.{s.domain}", s.domain], s.cert_validity_hours, child
        )
        self.tls_cert_pem = pulumi.Output.concat(cert.cert_pem, args.ca.cert_pem)
        self.tls_key_pem = secret(key.private_key_pem)

        labels = recommended_labels(JANITOR, "janitor")

        def meta(name_: str, namespaced: bool = True) -> Any:
            meta_: dict[str, Any] = {"name": name_, "labels": labels}
            if namespaced:
                meta_["namespace"] = JANITOR_NAMESPACE
            return meta_

        account = k8s.core.v1.ServiceAccount(
            f"{name}-janitor-account",
            metadata=meta(JANITOR),
            # Only the janitor's pod mounts a token (its pod spec asks for one).
            automount_service_account_token=False,
            opts=inside,
        )
        cluster_role = k8s.rbac.v1.ClusterRole(
            f"{name}-janitor-clusterrole",
            metadata=meta(JANITOR, False),
            rules=janitor_rules(),
            opts=child,
        )
        subject: Any = [{"kind": "ServiceAccount", "name": JANITOR, "namespace": JANITOR_NAMESPACE}]
        group = "rbac.authorization.k8s.io"
        cluster_role_ref: Any = {"apiGroup": group, "kind": "ClusterRole", "name": JANITOR}
        role_ref: Any = {"apiGroup": group, "kind": "Role", "name": JANITOR}
        cluster_binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-janitor-clusterrolebinding",
            metadata=meta(JANITOR, False),
            role_ref=cluster_role_ref,
            subjects=subject,
            opts=child_options(self, opts, [cluster_role, account]),
        )
        # RBAC cannot limit deletes by label: the API server itself refuses the janitor's
        # deletes and changes of namespaces that are not previews (labinfra.janitor_guard).
        # Typed Any, as the CronJob's spec: the tests validate the recorded objects against
        # the Kubernetes schema instead of the SDK's TypedDict overloads.
        guard_spec: Any = policy_spec(service_account_username(JANITOR_NAMESPACE, JANITOR))
        guard_binding_spec: Any = binding_spec()
        guard = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            f"{name}-janitor-guard",
            metadata=meta(POLICY_NAME, False),
            spec=guard_spec,
            opts=child,
        )
        guard_binding = k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            f"{name}-janitor-guard-binding",
            metadata=meta(POLICY_NAME, False),
            spec=guard_binding_spec,
            opts=child_options(self, opts, [guard]),
        )
        role = k8s.rbac.v1.Role(
            f"{name}-janitor-role", metadata=meta(JANITOR), rules=janitor_cache_rules(), opts=inside
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-janitor-rolebinding",
            metadata=meta(JANITOR),
            role_ref=role_ref,
            subjects=subject,
            opts=child_options(self, opts, [janitor_ns, role, account]),
        )
        token = k8s.core.v1.Secret(
            f"{name}-janitor-github",
            metadata=meta(JANITOR_GITHUB_SECRET),
            type="Opaque",
            string_data={"token": secret(args.janitor_github_token)},
            opts=inside,
        )
        k8s.batch.v1.CronJob(
            f"{name}-janitor",
            metadata=meta(JANITOR),
            spec=janitor_cronjob_spec(s),
            # The guard is in force before the janitor's first run.
            opts=child_options(
                self, opts, [janitor_ns, cluster_binding, binding, token, guard_binding]
            ),
        )
        self.register_outputs({"tlsCertPem": self.tls_cert_pem})
