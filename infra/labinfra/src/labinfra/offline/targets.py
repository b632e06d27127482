"""The labels the cluster's Prometheus gives each scrape target the stacks deploy.

Alert rules and dashboards select series by target labels (`job`, `lab_integration`); a
selector that no deployed target satisfies never fires. This module derives each target's
labels from the recorded objects the way prometheus-operator v0.93.0 writes the Prometheus
configuration (pkg/prometheus/promcfg.go at tag v0.93.0):

- ServiceMonitor (generateServiceMonitorConfig): `job` is the Service's name, replaced by
  the value of the Service label named by `spec.jobLabel` when that label is set; `namespace`
  and `service` come from the Service, `endpoint` is the endpoint's port name, `pod` and
  `container` from the pod (unknown here), and each `spec.targetLabels` entry is copied from
  the Service's labels.
- ScrapeConfig (generateScrapeConfig): `job` is `spec.jobName` (replacing the operator's own
  job name); static configs add their `labels`; `instance` is the target address unless a
  label sets it.

Values that exist only at run time (pod names, addresses) are UNKNOWN and match anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import promql_parser

from labinfra.offline.harness import StackRun

UNKNOWN = None
TARGET_LABELS = ("job", "lab_integration")
"""Labels that only targets set: a matcher on one of them selects targets, not series."""


@dataclass(frozen=True)
class Target:
    source: str
    """The URN of the ServiceMonitor or ScrapeConfig that makes this target."""
    labels: Mapping[str, str | None]


@dataclass(frozen=True)
class Selector:
    """A vector selector of a PromQL expression: metric name and label matchers."""

    text: str
    metric: str | None
    matchers: tuple[tuple[str, str, str], ...]
    """(label, operator, value) with operator one of =, !=, =~, !~."""

    def on_targets(self) -> tuple[tuple[str, str, str], ...]:
        return tuple(m for m in self.matchers if m[0] in TARGET_LABELS)


def _objects(run: StackRun, kind: str) -> Iterator[Mapping[str, Any]]:
    for resource in run.kubernetes_objects():
        if resource.inputs.get("kind") == kind:
            yield resource.inputs


def _namespace(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "default")


def service_monitor_targets(run: StackRun) -> list[Target]:
    services = list(_objects(run, "Service"))
    targets = []
    for resource in run.kubernetes_objects():
        if resource.inputs.get("kind") != "ServiceMonitor":
            continue
        monitor = resource.inputs
        spec = monitor.get("spec") or {}
        wanted = (spec.get("selector") or {}).get("matchLabels") or {}
        namespaces = (spec.get("namespaceSelector") or {}).get("matchNames") or [
            _namespace(monitor)
        ]
        for service in services:
            meta = service.get("metadata") or {}
            labels = meta.get("labels") or {}
            if _namespace(service) not in namespaces:
                continue
            if any(labels.get(k) != v for k, v in wanted.items()):
                continue
            job = str(meta.get("name"))
            job_label = spec.get("jobLabel")
            if job_label and labels.get(job_label):
                job = str(labels[job_label])
            for endpoint in spec.get("endpoints") or []:
                target: dict[str, str | None] = {
                    "job": job,
                    "namespace": _namespace(service),
                    "service": str(meta.get("name")),
                    "endpoint": endpoint.get("port") or str(endpoint.get("targetPort") or ""),
                    "pod": UNKNOWN,
                    "container": UNKNOWN,
                    "instance": UNKNOWN,
                }
                for name in spec.get("targetLabels") or []:
                    if labels.get(name):
                        target[_sanitize(name)] = str(labels[name])
                targets.append(Target(resource.urn, target))
    return targets


def scrape_config_targets(run: StackRun) -> list[Target]:
    targets = []
    for resource in run.kubernetes_objects():
        if resource.inputs.get("kind") != "ScrapeConfig":
            continue
        spec = resource.inputs.get("spec") or {}
        name = (resource.inputs.get("metadata") or {}).get("name")
        job = spec.get("jobName") or f"scrapeConfig/{_namespace(resource.inputs)}/{name}"
        rewritten = {r.get("targetLabel") for r in spec.get("relabelings") or []}
        for static in spec.get("staticConfigs") or []:
            for address in static.get("targets") or []:
                labels: dict[str, str | None] = {"instance": address}
                labels.update(static.get("labels") or {})
                labels["job"] = job
                for label in rewritten:
                    if label and label != "job":
                        labels[label] = UNKNOWN
                targets.append(Target(resource.urn, labels))
    return targets


def scrape_targets(runs: Iterable[StackRun]) -> list[Target]:
    """Every target the recorded stacks make Prometheus scrape (outside the charts)."""
    out: list[Target] = []
    for run in runs:
        out += service_monitor_targets(run)
        out += scrape_config_targets(run)
    return out


def _sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


_OPS = (
    (promql_parser.MatchOp.Equal, "="),
    (promql_parser.MatchOp.NotEqual, "!="),
    (promql_parser.MatchOp.Re, "=~"),
    (promql_parser.MatchOp.NotRe, "!~"),
)


def _op(op: promql_parser.MatchOp) -> str:
    # MatchOp values compare equal but are not hashable.
    return next(text for value, text in _OPS if value == op)


def selectors(expr: str) -> list[Selector]:
    """Every vector selector in `expr` (a PromQL expression), parsed by promql-parser."""
    found: list[Selector] = []

    def visit(node: promql_parser.Expr) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = tuple(
                (m.name, _op(m.op), m.value) for m in node.matchers.matchers if m.name != "__name__"
            )
            found.append(Selector(str(node), node.name, matchers))
        return True

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return found


def matches(target: Target, matchers: Iterable[tuple[str, str, str]]) -> bool:
    """Whether a series of `target` can satisfy every matcher (unknown values can)."""
    for label, op, value in matchers:
        have = target.labels.get(label, "")
        if have is UNKNOWN:
            continue
        if op == "=" and have != value:
            return False
        if op == "!=" and have == value:
            return False
        if op == "=~" and not re.fullmatch(value, have):
            return False
        if op == "!~" and re.fullmatch(value, have):
            return False
    return True
