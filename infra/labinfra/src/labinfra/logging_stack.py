"""LoggingStack: Loki (single binary, filesystem) and Grafana Alloy on every node.

Promtail reached end of life in March 2026; Alloy is its successor.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from labinfra.charts import ALLOY, LOKI
from labinfra.helm import helm_release
from labinfra.kube import child_options
from labinfra.monitoring.values import LoggingSettings, alloy_values, loki_values

LOKI_RELEASE = "loki"


def loki_url(namespace: str) -> str:
    return f"http://{LOKI_RELEASE}.{namespace}.svc:3100"


@dataclass(frozen=True)
class LoggingStackArgs:
    namespace: str
    settings: LoggingSettings


class LoggingStack(pulumi.ComponentResource):
    loki: k8s.helm.v3.Release
    alloy: k8s.helm.v3.Release

    def __init__(
        self, name: str, args: LoggingStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:platform:LoggingStack", name, None, opts)
        self.loki = helm_release(
            f"{name}-loki",
            LOKI,
            args.namespace,
            loki_values(args.settings),
            child_options(self, opts),
            release_name=LOKI_RELEASE,
        )
        # Agents started before Loki would retry and drop lines past their buffer.
        self.alloy = helm_release(
            f"{name}-alloy",
            ALLOY,
            args.namespace,
            alloy_values(f"{loki_url(args.namespace)}/loki/api/v1/push"),
            child_options(self, opts, [self.loki]),
            release_name="alloy",
        )
        self.register_outputs({"loki": self.loki.name, "alloy": self.alloy.name})
