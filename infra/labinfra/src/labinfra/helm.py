"""A Helm release through the lab's provider, from a pinned Chart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from labinfra.charts import Chart


def helm_release(
    name: str,
    chart: Chart,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    release_name: str | None = None,
) -> k8s.helm.v3.Release:
    return k8s.helm.v3.Release(
        name,
        name=release_name or name,
        chart=chart.name,
        version=chart.version,
        repository_opts=(
            k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository) if chart.repository else None
        ),
        namespace=namespace,
        values=dict(values),
        # Wait for the release's workloads so that dependants (custom resources of its
        # CRDs, Ingresses to its Services) are created against something that runs.
        atomic=True,
        timeout=900,
        max_history=5,
        opts=opts,
    )
