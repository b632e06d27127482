"""The janitor's decision table: one namespace, what GitHub said, the time -> one Decision.

Never delete on doubt: a namespace that is not ours, whose metadata is unusable, whose
pull request GitHub could not tell us about (error, rate limit, 404), or that is preserved
within the limit is kept. Deletion needs positive evidence: the PR is closed or merged, or
the environment has had no push for its whole TTL (that needs no GitHub answer at all).

Order of the rules (the first that applies wins):

| # | Condition | Action | Reason |
|---|---|---|---|
| 1 | not labelled managed-by=lab-preview, type=ephemeral | keep | not-managed |
| 2 | already being deleted | keep | deleting |
| 3 | no repository annotation or PR number label | keep | incomplete-metadata |
| 4 | preserved, within the limit, preserve-until in the future | keep | preserved |
| 5 | preserved, preserve-until unreadable | keep | preserve-unreadable |
| 6 | preserved, preserve-until past, PR closed or merged | delete | expired |
| 7 | preserved, preserve-until past, PR open | unpreserve | expired |
| 8 | preserved, preserve-until past, PR unknown/error | keep | (the PR state) |
| 9 | expires-at (last push + TTL) past | delete | idle |
| 10 | PR error, rate limited, 404 | keep | github-error, rate-limited, unknown-pr |
| 11 | PR closed or merged, never reported deployed | delete | orphaned |
| 12 | PR merged / closed | delete | merged / closed |
| 13 | last push older than sleep-after, not already asleep | sleep | idle-sleep |
| 14 | otherwise | keep | open |

A preserved namespace beyond the limit (more than `max_preserved` at once, counted in
order of preservation) is not protected by its label: it goes through rules 9-14 like any
other, and the decision says so ("too-many-preserved").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from labjanitor import labels as L  # noqa: N812
from labjanitor.core.model import Action, Decision, PreviewNamespace, PrState

DOUBT = {
    PrState.ERROR: "github-error",
    PrState.RATE_LIMITED: "rate-limited",
    PrState.UNKNOWN: "unknown-pr",
    PrState.NOT_ASKED: "github-not-asked",
}


@dataclass(frozen=True)
class Policy:
    max_preserved: int = 3


def needs_pr_state(ns: PreviewNamespace, now: datetime, within_limit: bool) -> bool:
    """Whether deciding about `ns` needs GitHub's answer (so idle ones cost no call)."""
    if not ns.managed or ns.deleting or ns.pull is None:
        return False
    if ns.preserved and within_limit:
        until = ns.time(L.ANNOTATION_PRESERVE_UNTIL)
        return until is not None and until <= now
    expires = ns.time(L.ANNOTATION_EXPIRES)
    return not (expires is not None and expires <= now)


def decide(
    ns: PreviewNamespace, state: PrState, now: datetime, *, within_limit: bool = True
) -> Decision:
    """The decision for one namespace given its PR's state (NOT_ASKED when not needed)."""

    def result(action: Action, reason: str, detail: str = "") -> Decision:
        return Decision(ns.name, action, reason, detail, ns.pull, state)

    if not ns.managed:
        return result(Action.KEEP, "not-managed", "labels are not managed-by=lab-preview")
    if ns.deleting:
        return result(Action.KEEP, "deleting", "the API server is deleting it already")
    if ns.pull is None:
        return result(Action.KEEP, "incomplete-metadata", "no usable repository or PR number")
    note = ""
    if ns.preserved:
        if not within_limit:
            note = "too-many-preserved: the preserve label is not honoured"
        else:
            until = ns.time(L.ANNOTATION_PRESERVE_UNTIL)
            if until is None:
                return result(Action.KEEP, "preserve-unreadable", "preserve-until is unreadable")
            if until > now:
                return result(Action.KEEP, "preserved", f"until {until.isoformat()}")
            if state in (PrState.CLOSED, PrState.MERGED):
                return result(Action.DELETE, "expired", f"preserve ended; PR {state.value}")
            if state is PrState.OPEN:
                return result(Action.UNPRESERVE, "expired", "preserve ended; the PR is open")
            return result(Action.KEEP, DOUBT[state], "preserve ended; PR state unknown")
    expires = ns.time(L.ANNOTATION_EXPIRES)
    if expires is not None and expires <= now:
        return result(Action.DELETE, "idle", _join(f"no push since before {expires}", note))
    if state in DOUBT:
        return result(Action.KEEP, DOUBT[state], note)
    if state in (PrState.CLOSED, PrState.MERGED):
        if not ns.deployed:
            return result(
                Action.DELETE, "orphaned", _join(f"PR {state.value}, never deployed", note)
            )
        return result(Action.DELETE, state.value, note)
    sleep_after = ns.sleep_after_hours
    updated = ns.time(L.ANNOTATION_UPDATED)
    if (
        sleep_after is not None
        and updated is not None
        and not ns.sleeping
        and now - updated >= timedelta(hours=sleep_after)
    ):
        return result(Action.SLEEP, "idle-sleep", _join(f"no push for {sleep_after} h", note))
    return result(Action.KEEP, "open", note)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def preserved_within_limit(
    namespaces: list[PreviewNamespace], policy: Policy, now: datetime
) -> set[str]:
    """Names of the preserved namespaces whose label is honoured.

    At most `max_preserved` live preservations count, earliest deadline first, so the one
    preserved last (or extended furthest) is the one beyond the limit. A preservation whose
    deadline has passed is always "honoured": it goes to the expiry rules (6-8), and does
    not take a place from a live one.
    """
    preserved = [n for n in namespaces if n.managed and n.preserved]
    live: list[tuple[datetime, str]] = []
    honoured = set()
    for n in preserved:
        until = n.time(L.ANNOTATION_PRESERVE_UNTIL)
        if until is None or until <= now:
            honoured.add(n.name)
        else:
            live.append((until, n.name))
    honoured.update(name for _, name in sorted(live)[: policy.max_preserved])
    return honoured
