"""Which preview stacks to remove: those whose namespace is gone and whose PR is closed.

The janitor deletes namespaces (closed or merged PRs, idle or orphaned environments) but
never touches Pulumi state: it holds no state-backend credentials and no passphrase, and
should not (they decrypt every stack's secrets). The sweep workflow
(`.github/workflows/preview-sweep.yml`), which has them already for deploys, runs
`lab-preview stale-stacks` and then `pulumi destroy --remove` for each stack it names:
with the namespace gone there is nothing left in the cluster, so the destroy only drops
state (pulumi-kubernetes treats a 404 on delete as deleted) and removes the stack.

A stack `pr-<n>` is removed only when all of these hold (never on doubt):
1. no namespace of this repository's PR <n> exists (labels `k8s-ee/type=ephemeral`,
   managed by lab-preview, `k8s-ee/pr-number=<n>`, annotation `k8s-ee/repository`): while it
   exists, the close event or the janitor deal with it, and a preserved one stays;
2. GitHub says the PR is closed or merged (an open PR's next push redeploys into its
   stack with `pulumi up --refresh`; unknown, errors and rate limits keep the stack);
3. no update is in progress and the last one is older than `min_age` (a deploy or the close
   event's destroy may be running; Pulumi's stack lock would refuse us anyway).
Stacks not named `pr-<n>` are never touched.

Input: `pulumi stack ls --json` (an array of {name, current, lastUpdate, updateInProgress,
resourceCount, url}; pulumi/pulumi pkg/cmd/pulumi/stack/stack_ls.go, the same fields as the
Automation API's StackSummary).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from labjanitor.core.model import PreviewNamespace, PrState, PullRef, parse_time

STACK = re.compile(r"^(?:[^/]+/[^/]+/)?pr-(?P<number>[1-9][0-9]*)$")
MIN_AGE = timedelta(hours=1)


class Verdict(enum.Enum):
    REMOVE = "remove"
    KEEP = "keep"


@dataclass(frozen=True)
class StackInfo:
    name: str
    pr: int | None
    last_update: datetime | None
    update_in_progress: bool


@dataclass(frozen=True)
class StackDecision:
    stack: str
    verdict: Verdict
    reason: str


def parse_stacks(data: Any) -> list[StackInfo]:
    """`pulumi stack ls --json` -> stacks; ValueError when it is not that shape."""
    if not isinstance(data, list):
        raise ValueError("expected a JSON array (pulumi stack ls --json)")
    stacks = []
    for item in data:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise ValueError(f"not a stack summary: {item!r}")
        match = STACK.match(item["name"])
        stacks.append(
            StackInfo(
                name=item["name"],
                pr=int(match["number"]) if match else None,
                last_update=parse_time(str(item.get("lastUpdate") or "")),
                update_in_progress=bool(item.get("updateInProgress")),
            )
        )
    return stacks


def decide_stacks(
    stacks: Sequence[StackInfo],
    repository: str,
    namespaces: Iterable[PreviewNamespace],
    states: Mapping[PullRef, PrState],
    now: datetime,
    min_age: timedelta = MIN_AGE,
) -> list[StackDecision]:
    live = {
        ns.pull.number
        for ns in namespaces
        if ns.managed and ns.pull is not None and ns.pull.repository == repository.lower()
    }
    decisions = []
    for stack in stacks:

        def decision(verdict: Verdict, reason: str, name: str = stack.name) -> StackDecision:
            return StackDecision(name, verdict, reason)

        if stack.pr is None:
            decisions.append(decision(Verdict.KEEP, "not-a-preview-stack"))
        elif stack.pr in live:
            decisions.append(decision(Verdict.KEEP, "namespace-exists"))
        elif stack.update_in_progress:
            decisions.append(decision(Verdict.KEEP, "update-in-progress"))
        elif stack.last_update is None or now - stack.last_update < min_age:
            decisions.append(decision(Verdict.KEEP, "recently-updated"))
        else:
            state = states.get(PullRef(repository.lower(), stack.pr), PrState.NOT_ASKED)
            if state in (PrState.CLOSED, PrState.MERGED):
                decisions.append(decision(Verdict.REMOVE, f"namespace-gone-pr-{state.value}"))
            elif state is PrState.OPEN:
                decisions.append(decision(Verdict.KEEP, "pr-open"))
            else:
                decisions.append(decision(Verdict.KEEP, f"pr-{state.value}"))
    return decisions


def prs_to_ask(
    stacks: Sequence[StackInfo],
    repository: str,
    namespaces: Iterable[PreviewNamespace],
    now: datetime,
    min_age: timedelta = MIN_AGE,
) -> list[PullRef]:
    """The pull requests whose state decides something (no GitHub call for the rest)."""
    undecided = decide_stacks(stacks, repository, namespaces, {}, now, min_age)
    wanted = {d.stack for d in undecided if d.reason == "pr-not-asked"}
    return [PullRef(repository.lower(), s.pr) for s in stacks if s.name in wanted and s.pr]
