"""The preview Pulumi program: one stack per pull request (`pr-<number>`).

Reads the stack's configuration (`PreviewStackConfig`, set by `lab-preview stack-config`
in the deploy workflow), validates the k8s-ee.yaml it carries, and registers the plan's
objects through the one explicit Kubernetes provider, with generated credentials as Pulumi
secrets that reach the cluster only as Kubernetes Secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pydantic import Field

from labinfra.kube import kubernetes_provider, secret
from labinfra.stackconfig import ConfigModel, StackConfigError
from labpreview import urls
from labpreview.config import ConfigError, PreviewConfig, validate_text
from labpreview.plan import ENV_SECRET, Context, Manifest, Plan, credential_secret, plan

_CLASSES: dict[str, Any] = {
    "Namespace": k8s.core.v1.Namespace,
    "ResourceQuota": k8s.core.v1.ResourceQuota,
    "LimitRange": k8s.core.v1.LimitRange,
    "Service": k8s.core.v1.Service,
    "Secret": k8s.core.v1.Secret,
    "NetworkPolicy": k8s.networking.v1.NetworkPolicy,
    "Ingress": k8s.networking.v1.Ingress,
    "Deployment": k8s.apps.v1.Deployment,
    "StatefulSet": k8s.apps.v1.StatefulSet,
    "Job": k8s.batch.v1.Job,
}


class PreviewStackConfig(ConfigModel):
    """The `lab-preview` project's stack configuration (keys in camelCase)."""

    SECRETS: ClassVar[tuple[str, ...]] = ()
    preview_config: str = Field(min_length=1)
    """The pull request's k8s-ee.yaml, as text (validated again here)."""
    config_file: str = "k8s-ee.yaml"
    pr_number: int = Field(ge=1)
    branch: str = Field(min_length=1)
    commit_sha: str = Field(pattern=r"^[0-9a-f]{40}$")
    repository: str = Field(pattern=r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$")
    created_at: datetime
    deployed_at: datetime
    cluster_stack: str
    platform_stack: str
    preview_domain: str = Field(pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
    registry: str = Field(pattern=r"^[a-z0-9.\-]+(:\d+)?$")
    storage_class: str | None = None
    ingress_class: str = "traefik"
    ingress_namespace: str = "kube-system"
    ingress_pod_labels: dict[str, str] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "traefik"}
    )
    prometheus_namespace: str = "monitoring"
    prometheus_pod_labels: dict[str, str] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"}
    )
    api_server_cidrs: list[str] = Field(default_factory=list)
    grafana_dashboard: str = "/d/preview-environment"


def context_of(stack: PreviewStackConfig) -> Context:
    return Context(
        pr=stack.pr_number,
        branch=stack.branch,
        commit=stack.commit_sha,
        repository=stack.repository,
        domain=stack.preview_domain,
        registry=stack.registry,
        created_at=stack.created_at.astimezone(UTC),
        deployed_at=stack.deployed_at.astimezone(UTC),
        storage_class=stack.storage_class,
        ingress_class=stack.ingress_class,
        ingress_namespace=stack.ingress_namespace,
        ingress_pod_labels=stack.ingress_pod_labels,
        prometheus_namespace=stack.prometheus_namespace,
        prometheus_pod_labels=stack.prometheus_pod_labels,
        api_server_cidrs=tuple(stack.api_server_cidrs),
    )


def load_preview_config(stack: PreviewStackConfig) -> PreviewConfig:
    try:
        return validate_text(stack.preview_config, stack.config_file)
    except ConfigError as exc:
        raise StackConfigError(f"{stack.config_file} is not valid:\n{exc}") from None


def _password(name: str, opts: pulumi.ResourceOptions, length: int = 32) -> pulumi.Output[str]:
    # Letters and digits only: safe in URLs, shells and config files of every database.
    generated = random.RandomPassword(name, length=length, special=False, opts=opts)
    return secret(generated.result)


def _credentials(
    the_plan: Plan, random_opts: pulumi.ResourceOptions
) -> tuple[dict[str, dict[str, pulumi.Output[str]]], dict[str, pulumi.Output[str]]]:
    """Secret name -> key -> value for the database Secrets, and the env Secret's values."""
    values: dict[str, dict[str, pulumi.Output[str]]] = {}
    env: dict[str, pulumi.Output[str]] = {}
    for name, keys in the_plan.secrets.items():
        kind = name.removesuffix("-credentials")
        if kind not in urls.PORTS:
            continue
        password = _password(f"{kind}-password", random_opts)
        access = (
            _password("minio-access-key", random_opts, length=20) if kind == "minio" else secret("")
        )
        entry: dict[str, pulumi.Output[str]] = {}
        for key in keys:
            if key in ("password", "secret-key"):
                entry[key] = password
            elif key == "username":
                entry[key] = secret(urls.USER)
            elif key == "access-key":
                entry[key] = access
            elif key == "root-password":
                entry[key] = _password(f"{kind}-root-password", random_opts)
        values[name] = entry
        for variable in urls.database_variables(kind, "x", "x"):
            env[variable] = pulumi.Output.all(password, access).apply(_variable(kind, variable))
    return values, {k: secret(v) for k, v in env.items()}


def _variable(kind: str, variable: str) -> Callable[[list[Any]], str]:
    def value(pair: list[Any]) -> str:
        return urls.database_variables(kind, str(pair[0]), str(pair[1]))[variable]

    return value


def _register(manifest: Manifest, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    kind = manifest["kind"]
    name = f"{kind.lower()}-{manifest['metadata']['name']}"
    body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    cls = _CLASSES.get(kind)
    if cls is None:
        return k8s.apiextensions.CustomResource(
            name,
            api_version=manifest["apiVersion"],
            kind=kind,
            metadata=body.pop("metadata"),
            spec=body.pop("spec"),
            opts=opts,
        )
    resource: pulumi.CustomResource = cls(name, opts=opts, **body)
    return resource


def build_preview(
    stack: PreviewStackConfig,
    config: PreviewConfig,
    *,
    kubeconfig: pulumi.Input[str],
    docker_config: pulumi.Input[str],
    tls_cert: pulumi.Input[str],
    tls_key: pulumi.Input[str],
    grafana_url: pulumi.Input[str],
) -> Plan:
    the_plan = plan(config, context_of(stack))
    provider = kubernetes_provider("k8s", kubeconfig)
    random_opts = pulumi.ResourceOptions(provider=random.Provider("random"))
    namespace_manifest, *rest = the_plan.objects
    namespace = _register(namespace_manifest, pulumi.ResourceOptions(provider=provider))
    inside = pulumi.ResourceOptions(provider=provider, depends_on=[namespace])
    values, env = _credentials(the_plan, random_opts)
    labels = dict(namespace_manifest["metadata"]["labels"])
    for key in [
        k
        for k in labels
        if k.startswith(("pod-security", "k8s-ee/branch", "k8s-ee/commit", "k8s-ee/type"))
    ]:
        labels.pop(key)
    secrets: list[pulumi.Resource] = []

    def add_secret(name: str, data: Mapping[str, pulumi.Input[str]], typ: str = "Opaque") -> None:
        secrets.append(
            k8s.core.v1.Secret(
                f"secret-{name}",
                metadata={
                    "name": name,
                    "namespace": the_plan.namespace,
                    "labels": {
                        **labels,
                        "app.kubernetes.io/name": name,
                        "app.kubernetes.io/component": "secret",
                    },
                },
                type=typ,
                string_data=dict(data),
                opts=inside,
            )
        )

    for name, data in values.items():
        add_secret(
            name,
            data,
            "kubernetes.io/basic-auth" if name == credential_secret("postgresql") else "Opaque",
        )
    if ENV_SECRET in the_plan.secrets:
        add_secret(ENV_SECRET, env)
    add_secret(
        "registry-pull",
        {".dockerconfigjson": secret(docker_config)},
        "kubernetes.io/dockerconfigjson",
    )
    if "preview-tls" in the_plan.secrets:
        add_secret(
            "preview-tls", {"tls.crt": tls_cert, "tls.key": secret(tls_key)}, "kubernetes.io/tls"
        )
    guard_rails = [m for m in rest if m["kind"] in ("ResourceQuota", "LimitRange", "NetworkPolicy")]
    # Quota, limits and network policies first: a pod created before them would escape them.
    rails = [_register(m, inside) for m in guard_rails]
    ready = pulumi.ResourceOptions(provider=provider, depends_on=[namespace, *rails, *secrets])
    seeded: list[pulumi.Resource] = []
    for manifest in [m for m in rest if m not in guard_rails]:
        if manifest["kind"] == "Deployment" and seeded:
            # Apps start after the seed data is in (Pulumi waits for the Job to complete).
            opts = pulumi.ResourceOptions.merge(ready, pulumi.ResourceOptions(depends_on=seeded))
        else:
            opts = ready
        resource = _register(manifest, opts)
        if manifest["kind"] == "Job" and manifest["metadata"]["name"] == "seed":
            seeded.append(resource)
    pulumi.export("namespace", the_plan.namespace)
    pulumi.export("url", the_plan.urls.get("app", ""))
    pulumi.export("urls", the_plan.urls)
    pulumi.export("images", the_plan.images)
    pulumi.export("databases", sorted(config.databases))
    pulumi.export("commit", stack.commit_sha)
    pulumi.export("branch", stack.branch)
    pulumi.export("prNumber", stack.pr_number)
    pulumi.export(
        "grafanaUrl",
        pulumi.Output.from_input(grafana_url).apply(
            lambda base: (
                f"{base}{stack.grafana_dashboard}?var-namespace={the_plan.namespace}"
                if base
                else ""
            )
        ),
    )
    return the_plan


def main() -> None:
    """The project's entry point (`infra/projects/preview/__main__.py`)."""
    from labinfra.stackconfig import read_config

    stack = read_config(PreviewStackConfig)
    config = load_preview_config(stack)
    cluster = pulumi.StackReference(stack.cluster_stack)
    platform = pulumi.StackReference(stack.platform_stack)
    build_preview(
        stack,
        config,
        kubeconfig=cluster.require_output("kubeconfig"),
        docker_config=platform.require_output("registryDockerConfig"),
        tls_cert=platform.require_output("previewTlsCertPem"),
        tls_key=platform.require_output("previewTlsKeyPem"),
        grafana_url=platform.get_output("grafanaUrl"),
    )
