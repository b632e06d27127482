"""The one explicit Kubernetes provider and small helpers shared by components."""

from __future__ import annotations

import re

import pulumi
import pulumi_kubernetes as k8s

from labinfra.k3s.scripts import cluster_identity
from labinfra.names import recommended_labels

_PINNED_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9.\-]+(?::\d+)?/[a-z0-9._/\-]+)(?::(?P<tag>[\w][\w.\-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def kubernetes_provider(name: str, kubeconfig: pulumi.Input[str]) -> k8s.Provider:
    """The only way the lab's programs talk to a cluster.

    Server-side apply is on so field ownership is tracked by the API server (Helm, the
    operator and Pulumi share objects without clobbering each other); the default
    provider is disabled in every stack file, so a resource created without this
    provider fails instead of silently using ~/.kube/config.

    `clusterIdentifier` is the cluster's CA (labinfra.k3s.scripts.cluster_identity): with it
    set, only a new CA (a rebuilt cluster) replaces the provider and everything it manages;
    a kubeconfig refreshed with renewed client certificates is an update (pulumi-kubernetes
    4.34.2, Provider.cluster_identifier).
    """
    return k8s.Provider(
        name,
        kubeconfig=kubeconfig,
        cluster_identifier=pulumi.Output.from_input(kubeconfig).apply(cluster_identity),
        enable_server_side_apply=True,
        delete_unreachable=False,
    )


def check_pinned_image(image: str) -> str:
    """Return `image` if it names a registry and is pinned by digest or a non-`latest` tag."""
    match = _PINNED_IMAGE.match(image)
    registry = image.split("/", 1)[0]
    if match is None or not ("." in registry or ":" in registry or registry == "localhost"):
        raise ValueError(f"image {image!r}: expected <registry>/<repository>[:tag][@sha256:...]")
    if match["digest"] is None and match["tag"] in (None, "latest"):
        raise ValueError(f"image {image!r}: pin it by a version tag or a sha256 digest")
    return image


def secret(value: pulumi.Input[str]) -> pulumi.Output[str]:
    """`value` marked secret (typed: `Output.secret` alone infers `Never` under mypy)."""
    return pulumi.Output[str].secret(value)


def child_options(
    parent: pulumi.Resource,
    opts: pulumi.ResourceOptions | None,
    depends_on: list[pulumi.Resource] | None = None,
) -> pulumi.ResourceOptions:
    """Options for a component's child: parented, and waiting for what the component waits for.

    Pulumi does not pass a component's `depends_on` to its children, so without this a
    Secret inside a component could be created before the namespace it lives in.
    """
    inherited = opts.depends_on if opts is not None else None
    if inherited is None:
        waits: list[pulumi.Resource] = []
    elif isinstance(inherited, pulumi.Resource):
        waits = [inherited]
    else:
        waits = [d for d in inherited if isinstance(d, pulumi.Resource)]  # type: ignore[union-attr]
    return pulumi.ResourceOptions(parent=parent, depends_on=[*waits, *(depends_on or [])])


def image_registry(image: str) -> str:
    return image.split("/", 1)[0]


def restricted_namespace(
    name: str, namespace: str, opts: pulumi.ResourceOptions
) -> k8s.core.v1.Namespace:
    """A namespace whose pods must meet the `restricted` Pod Security Standard."""
    return k8s.core.v1.Namespace(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=namespace,
            labels={
                **recommended_labels(namespace, "namespace"),
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        ),
        opts=opts,
    )


def restricted_container_security() -> k8s.core.v1.SecurityContextArgs:
    """A container's security context for the `restricted` Pod Security Standard, with a
    read-only root filesystem (the pod sets runAsUser and the seccomp profile)."""
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )
