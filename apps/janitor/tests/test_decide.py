"""The decision table (labjanitor.core.decide), case by case, without any I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from labjanitor import labels as L  # noqa: N812
from labjanitor.core.decide import Policy, decide, needs_pr_state, preserved_within_limit
from labjanitor.core.model import Action, PreviewNamespace, PrState, format_time

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ns(
    name: str = "lab-pr-7",
    *,
    managed: bool = True,
    pr: str = "7",
    repository: str = "example-lab/lab",
    preserve_until: datetime | None = None,
    preserved: bool = False,
    expires: datetime | None = None,
    updated: datetime | None = None,
    sleep_after: int | None = None,
    sleeping: bool = False,
    deployed: bool = True,
    deleting: bool = False,
) -> PreviewNamespace:
    labels = {L.LABEL_TYPE: L.TYPE_EPHEMERAL, L.LABEL_PR: pr}
    labels[L.LABEL_MANAGED_BY] = L.MANAGED_BY if managed else "github-actions"
    annotations = {L.ANNOTATION_REPOSITORY: repository}
    if preserved or preserve_until:
        labels[L.LABEL_PRESERVE] = "true"
    if preserve_until:
        annotations[L.ANNOTATION_PRESERVE_UNTIL] = format_time(preserve_until)
    annotations[L.ANNOTATION_EXPIRES] = format_time(expires or NOW + timedelta(days=2))
    annotations[L.ANNOTATION_UPDATED] = format_time(updated or NOW - timedelta(hours=1))
    if sleep_after:
        annotations[L.ANNOTATION_SLEEP_AFTER_HOURS] = str(sleep_after)
    if sleeping:
        annotations[L.ANNOTATION_SLEEPING_SINCE] = format_time(NOW - timedelta(hours=1))
    if deployed:
        annotations[L.ANNOTATION_DEPLOY_STATUS] = "deployed"
    return PreviewNamespace(name, labels, annotations, deleting=deleting)


H = timedelta(hours=1)
CASES = [
    # (id, namespace, PR state, within the preserve limit, action, reason)
    ("not-ours", ns(managed=False), PrState.CLOSED, True, Action.KEEP, "not-managed"),
    ("deleting", ns(deleting=True), PrState.CLOSED, True, Action.KEEP, "deleting"),
    ("no-pr-number", ns(pr="x"), PrState.CLOSED, True, Action.KEEP, "incomplete-metadata"),
    ("no-repository", ns(repository=""), PrState.CLOSED, True, Action.KEEP, "incomplete-metadata"),
    ("open", ns(), PrState.OPEN, True, Action.KEEP, "open"),
    ("closed", ns(), PrState.CLOSED, True, Action.DELETE, "closed"),
    ("merged", ns(), PrState.MERGED, True, Action.DELETE, "merged"),
    ("orphaned", ns(deployed=False), PrState.CLOSED, True, Action.DELETE, "orphaned"),
    ("orphaned-merged", ns(deployed=False), PrState.MERGED, True, Action.DELETE, "orphaned"),
    ("idle", ns(expires=NOW - H), PrState.NOT_ASKED, True, Action.DELETE, "idle"),
    ("idle-open", ns(expires=NOW - H), PrState.OPEN, True, Action.DELETE, "idle"),
    ("github-error", ns(), PrState.ERROR, True, Action.KEEP, "github-error"),
    ("rate-limited", ns(), PrState.RATE_LIMITED, True, Action.KEEP, "rate-limited"),
    ("unknown-pr", ns(), PrState.UNKNOWN, True, Action.KEEP, "unknown-pr"),
    ("preserved", ns(preserve_until=NOW + H), PrState.NOT_ASKED, True, Action.KEEP, "preserved"),
    (
        "preserved-closed",
        ns(preserve_until=NOW + H),
        PrState.CLOSED,
        True,
        Action.KEEP,
        "preserved",
    ),
    (
        "preserved-idle",
        ns(preserve_until=NOW + H, expires=NOW - H),
        PrState.NOT_ASKED,
        True,
        Action.KEEP,
        "preserved",
    ),
    (
        "preserve-unreadable",
        ns(preserved=True),
        PrState.NOT_ASKED,
        True,
        Action.KEEP,
        "preserve-unreadable",
    ),
    ("expired-closed", ns(preserve_until=NOW - H), PrState.CLOSED, True, Action.DELETE, "expired"),
    ("expired-merged", ns(preserve_until=NOW - H), PrState.MERGED, True, Action.DELETE, "expired"),
    (
        "expired-open",
        ns(preserve_until=NOW - H),
        PrState.OPEN,
        True,
        Action.UNPRESERVE,
        "expired",
    ),
    (
        "expired-github-error",
        ns(preserve_until=NOW - H),
        PrState.ERROR,
        True,
        Action.KEEP,
        "github-error",
    ),
    (
        "too-many-preserved-closed",
        ns(preserve_until=NOW + H),
        PrState.CLOSED,
        False,
        Action.DELETE,
        "closed",
    ),
    (
        "too-many-preserved-open",
        ns(preserve_until=NOW + H),
        PrState.OPEN,
        False,
        Action.KEEP,
        "open",
    ),
    (
        "sleep",
        ns(sleep_after=12, updated=NOW - 13 * H),
        PrState.OPEN,
        True,
        Action.SLEEP,
        "idle-sleep",
    ),
    (
        "asleep-already",
        ns(sleep_after=12, updated=NOW - 13 * H, sleeping=True),
        PrState.OPEN,
        True,
        Action.KEEP,
        "open",
    ),
    (
        "not-yet-sleepy",
        ns(sleep_after=12, updated=NOW - 11 * H),
        PrState.OPEN,
        True,
        Action.KEEP,
        "open",
    ),
    (
        "sleepy-but-closed",
        ns(sleep_after=12, updated=NOW - 13 * H),
        PrState.MERGED,
        True,
        Action.DELETE,
        "merged",
    ),
]


@pytest.mark.parametrize(
    ("namespace", "state", "within", "action", "reason"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decision_table(
    namespace: PreviewNamespace, state: PrState, within: bool, action: Action, reason: str
) -> None:
    decision = decide(namespace, state, NOW, within_limit=within)
    assert (decision.action, decision.reason) == (action, reason)


def test_too_many_preserved_says_so() -> None:
    decision = decide(ns(preserve_until=NOW + H), PrState.OPEN, NOW, within_limit=False)
    assert "too-many-preserved" in decision.detail


@pytest.mark.parametrize("state", list(PrState))
def test_nothing_is_deleted_on_doubt(state: PrState) -> None:
    """Whatever GitHub says, a namespace that is not ours or has unusable metadata stays;
    and an open-looking one is only deleted on CLOSED or MERGED."""
    for namespace in (ns(managed=False), ns(pr="0"), ns(repository="not a repo")):
        assert decide(namespace, state, NOW).action is Action.KEEP
    if state not in (PrState.CLOSED, PrState.MERGED):
        assert decide(ns(), state, NOW).action is not Action.DELETE


def test_github_is_asked_only_when_the_answer_matters() -> None:
    assert needs_pr_state(ns(), NOW, True)
    assert not needs_pr_state(ns(expires=NOW - H), NOW, True)  # idle: deleted anyway
    assert not needs_pr_state(ns(managed=False), NOW, True)
    assert not needs_pr_state(ns(preserve_until=NOW + H), NOW, True)
    assert needs_pr_state(ns(preserve_until=NOW - H), NOW, True)
    assert needs_pr_state(ns(preserve_until=NOW + H), NOW, False)


def test_the_preserve_limit_honours_the_earliest_deadlines() -> None:
    spaces = [
        ns("a-pr-1", preserve_until=NOW + 5 * H),
        ns("a-pr-2", preserve_until=NOW + 1 * H),
        ns("a-pr-3", preserve_until=NOW + 3 * H),
        ns("a-pr-4", preserve_until=NOW + 2 * H),
        ns("a-pr-5"),
        ns("b-pr-6", preserve_until=NOW + H, managed=False),
        ns("a-pr-7", preserve_until=NOW - H),
        ns("a-pr-8", preserved=True),
    ]
    # Expired or unreadable preservations go to their own rules and take no place.
    assert preserved_within_limit(spaces, Policy(max_preserved=3), NOW) == {
        "a-pr-2",
        "a-pr-3",
        "a-pr-4",
        "a-pr-7",
        "a-pr-8",
    }
