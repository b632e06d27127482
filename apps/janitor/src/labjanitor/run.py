"""One janitor run: list the preview namespaces, ask GitHub about their pull requests (at
most one request per pull request, usually far fewer), decide, act (unless dry-run), log
one line per decision, count everything in metrics."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge

from labjanitor.core.decide import Policy, decide, needs_pr_state, preserved_within_limit
from labjanitor.core.model import Action, Decision, PreviewNamespace, PrState, PullRef
from labjanitor.github import GitHubClient
from labjanitor.kube import Kube, KubeError
from labjanitor.pulls import pull_states
from labkit.logs import get_logger

log = get_logger("labjanitor")


class Metrics:
    """The run's metrics (`lab_janitor_*`), created at start so every series exists at 0."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "lab_janitor_decisions",
            "Decisions by action and reason",
            ["action", "reason"],
            registry=r,
        )
        self.actions_failed = Counter(
            "lab_janitor_actions_failed",
            "Deletions, sleeps and unpreserves that failed",
            ["action"],
            registry=r,
        )
        self.github_requests = Counter(
            "lab_janitor_github_requests", "GitHub requests by outcome", ["outcome"], registry=r
        )
        self.namespaces = Gauge(
            "lab_janitor_namespaces", "Preview namespaces seen in the last run", registry=r
        )
        self.last_run = Gauge(
            "lab_janitor_last_run_timestamp_seconds", "When the last run ended", registry=r
        )
        self.last_success = Gauge(
            "lab_janitor_last_success_timestamp_seconds",
            "When the last run without errors ended",
            registry=r,
        )
        self.duration = Gauge(
            "lab_janitor_run_duration_seconds", "How long the last run took", registry=r
        )
        for action in Action:
            self.actions_failed.labels(action.value)
        for outcome in ("ok", "not_modified", "not_found", "error", "rate_limited"):
            self.github_requests.labels(outcome)


@dataclass
class RunReport:
    decisions: list[Decision] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    github_calls: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def pr_states(
    github: GitHubClient,
    pulls: Iterable[PullRef],
    metrics: Metrics,
    report: RunReport,
    now: datetime,
) -> dict[PullRef, PrState]:
    """GitHub's answer for each pull request: at most one request per pull request, most of
    them answered by the repository's list of pull requests (`labjanitor.pulls`)."""
    lookup = pull_states(
        github,
        pulls,
        rotation=int(now.timestamp() // 3600),
        outcome=lambda outcome: metrics.github_requests.labels(outcome).inc(),
    )
    report.errors.extend(lookup.errors)
    report.github_calls += lookup.requests
    return lookup.states


def decide_all(
    namespaces: list[PreviewNamespace],
    github: GitHubClient,
    now: datetime,
    policy: Policy,
    metrics: Metrics,
    report: RunReport,
) -> list[Decision]:
    honoured = preserved_within_limit(namespaces, policy, now)
    wanted = [
        ns.pull
        for ns in namespaces
        if ns.pull is not None and needs_pr_state(ns, now, ns.name in honoured)
    ]
    states = pr_states(github, [p for p in wanted if p is not None], metrics, report, now)
    decisions = []
    for ns in sorted(namespaces, key=lambda n: n.name):
        within = ns.name in honoured
        state = PrState.NOT_ASKED
        if ns.pull is not None and needs_pr_state(ns, now, within):
            state = states.get(ns.pull, PrState.NOT_ASKED)
        decisions.append(decide(ns, state, now, within_limit=within))
    return decisions


def act(kube: Kube, decision: Decision, now: datetime, dry_run: bool) -> None:
    if dry_run or decision.action is Action.KEEP:
        return
    if decision.action is Action.DELETE:
        kube.delete_namespace(decision.namespace)
    elif decision.action is Action.SLEEP:
        kube.sleep(decision.namespace, now)
    elif decision.action is Action.UNPRESERVE:
        kube.unpreserve(decision.namespace)


def run_once(
    kube: Kube,
    github: GitHubClient,
    *,
    now: datetime,
    policy: Policy,
    dry_run: bool,
    metrics: Metrics,
) -> RunReport:
    """List, decide, act; never raises for one namespace's failure (it is counted)."""
    started = time.monotonic()
    report = RunReport()
    try:
        namespaces = kube.preview_namespaces()
    except KubeError as exc:
        report.errors.append(str(exc))
        log.error("cannot list preview namespaces", error=str(exc))
        return report
    metrics.namespaces.set(len(namespaces))
    report.decisions = decide_all(namespaces, github, now, policy, metrics, report)
    for decision in report.decisions:
        metrics.decisions.labels(decision.action.value, decision.reason).inc()
        failed = ""
        try:
            act(kube, decision, now, dry_run)
        except KubeError as exc:
            failed = str(exc)
            report.errors.append(failed)
            metrics.actions_failed.labels(decision.action.value).inc()
        fields = {
            "namespace": decision.namespace,
            "action": decision.action.value,
            "reason": decision.reason,
            "repository": decision.pull.repository if decision.pull else "",
            "pr": decision.pull.number if decision.pull else "",
            "pr_state": decision.pr_state.value,
            "dry_run": str(dry_run).lower(),
            "detail": decision.detail,
        }
        if failed:
            log.error("decision", **fields, error=failed)
        else:
            log.info("decision", **fields)
    metrics.duration.set(time.monotonic() - started)
    metrics.last_run.set(now.timestamp())
    if report.ok:
        metrics.last_success.set(now.timestamp())
    log.info(
        "run finished",
        namespaces=len(namespaces),
        deleted=sum(d.action is Action.DELETE for d in report.decisions),
        slept=sum(d.action is Action.SLEEP for d in report.decisions),
        kept=sum(d.action is Action.KEEP for d in report.decisions),
        github_calls=report.github_calls,
        errors=len(report.errors),
        dry_run=str(dry_run).lower(),
    )
    return report
