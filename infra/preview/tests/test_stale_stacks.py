"""Removing the Pulumi stacks of previews whose namespace is gone (labpreview.stacks and
`lab-preview stale-stacks`, run by .github/workflows/preview-sweep.yml).

The decision table as Python, then the command end to end against local servers that
answer as the Kubernetes API and GitHub's REST API do (labjanitor.testing: neither can be
reached here), fed a `pulumi stack ls --json` document of the shape Pulumi prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from labjanitor import labels as L  # noqa: N812
from labjanitor.core.model import PreviewNamespace, PrState, PullRef
from labjanitor.testing import fake_github, fake_kube
from labjanitor.testing.fake_github import TOKEN, FakeGitHubServer, pull
from labjanitor.testing.fake_kube import FakeKubeServer
from labpreview.stacks import (
    StackInfo,
    Verdict,
    decide_stacks,
    parse_stacks,
    prs_to_ask,
)

REPO = "example-lab/lab"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=2)


def stack(name: str, last: datetime | None = OLD, running: bool = False) -> dict[str, object]:
    """One entry of `pulumi stack ls --json`."""
    entry: dict[str, object] = {
        "name": name,
        "current": False,
        "updateInProgress": running,
        "resourceCount": 25,
    }
    if last is not None:
        entry["lastUpdate"] = last.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return entry


def namespace(pr: int, repository: str = REPO, managed: bool = True) -> PreviewNamespace:
    return PreviewNamespace(
        name=f"lab-pr-{pr}",
        labels={
            L.LABEL_TYPE: L.TYPE_EPHEMERAL,
            L.LABEL_MANAGED_BY: L.MANAGED_BY if managed else "other",
            L.LABEL_PR: str(pr),
        },
        annotations={L.ANNOTATION_REPOSITORY: repository},
    )


def test_the_decision_table() -> None:
    stacks = parse_stacks(
        [
            stack("pr-1"),  # namespace gone, PR merged: remove
            stack("organization/lab-preview/pr-2"),  # fully qualified, PR closed: remove
            stack("pr-3"),  # namespace still there: keep
            stack("pr-4"),  # PR open: keep
            stack("pr-5", running=True),
            stack("pr-6", last=NOW - timedelta(minutes=10)),
            stack("pr-7", last=None),
            stack("pr-8"),  # GitHub does not know it: keep
            stack("pr-9"),  # GitHub failed: keep
            stack("lab"),
            stack("pr-10"),  # another repository's namespace 10 does not count
        ]
    )
    states = {
        PullRef(REPO, 1): PrState.MERGED,
        PullRef(REPO, 2): PrState.CLOSED,
        PullRef(REPO, 4): PrState.OPEN,
        PullRef(REPO, 8): PrState.UNKNOWN,
        PullRef(REPO, 9): PrState.ERROR,
        PullRef(REPO, 10): PrState.CLOSED,
    }
    namespaces = [namespace(3), namespace(10, repository="someone/else")]
    got = {
        d.stack: (d.verdict, d.reason) for d in decide_stacks(stacks, REPO, namespaces, states, NOW)
    }
    assert got == {
        "pr-1": (Verdict.REMOVE, "namespace-gone-pr-merged"),
        "organization/lab-preview/pr-2": (Verdict.REMOVE, "namespace-gone-pr-closed"),
        "pr-3": (Verdict.KEEP, "namespace-exists"),
        "pr-4": (Verdict.KEEP, "pr-open"),
        "pr-5": (Verdict.KEEP, "update-in-progress"),
        "pr-6": (Verdict.KEEP, "recently-updated"),
        "pr-7": (Verdict.KEEP, "recently-updated"),
        "pr-8": (Verdict.KEEP, "pr-unknown"),
        "pr-9": (Verdict.KEEP, "pr-error"),
        "lab": (Verdict.KEEP, "not-a-preview-stack"),
        "pr-10": (Verdict.REMOVE, "namespace-gone-pr-closed"),
    }
    # GitHub is asked only about what it decides.
    asked = prs_to_ask(stacks, REPO, namespaces, NOW)
    assert sorted(p.number for p in asked) == [1, 2, 4, 8, 9, 10]


def test_a_preserved_namespace_keeps_its_stack() -> None:
    preserved = PreviewNamespace(
        name="lab-pr-1",
        labels={**namespace(1).labels, L.LABEL_PRESERVE: "true"},
        annotations=namespace(1).annotations,
    )
    (decision,) = decide_stacks(
        parse_stacks([stack("pr-1")]), REPO, [preserved], {PullRef(REPO, 1): PrState.MERGED}, NOW
    )
    assert decision.verdict is Verdict.KEEP


@pytest.mark.parametrize("data", [{"name": "pr-1"}, [{"nom": "pr-1"}], ["pr-1"]])
def test_not_a_stack_list_is_refused(data: object) -> None:
    with pytest.raises(ValueError, match="stack"):
        parse_stacks(data)


def test_stack_names() -> None:
    names = ["pr-12", "organization/lab-preview/pr-3", "pr-0", "pr-x", "lab", "pr-12-old"]
    assert [s.pr for s in parse_stacks([stack(n) for n in names])] == [
        12,
        3,
        None,
        None,
        None,
        None,
    ]
    assert isinstance(parse_stacks([stack("pr-1")])[0], StackInfo)


# --- the command, end to end -----------------------------------------------------------


@pytest.fixture
def servers() -> Iterator[tuple[FakeKubeServer, FakeGitHubServer]]:
    kube, github = fake_kube.running(), fake_github.running()
    try:
        yield next(kube), next(github)
    finally:
        for gen in (kube, github):
            for _ in gen:
                pass


def test_the_command_prints_only_stacks_to_remove(
    servers: tuple[FakeKubeServer, FakeGitHubServer], tmp_path: Path
) -> None:
    kube, github = servers
    github.state.add_pull(REPO, pull(1, "closed", True))
    github.state.add_pull(REPO, pull(2, "closed"))
    github.state.add_pull(REPO, pull(3, "closed"))
    github.state.add_pull(REPO, pull(4))
    # PR 3's namespace is still there (preserved after closing): its stack stays.
    kube.state.add_namespace(
        "lab-pr-3",
        {**namespace(3).labels, L.LABEL_PRESERVE: "true"},
        dict(namespace(3).annotations),
    )
    stacks = tmp_path / "stacks.json"
    stacks.write_text(json.dumps([stack(f"pr-{n}") for n in (1, 2, 3, 4)]))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "labpreview.cli",
            "stale-stacks",
            "--repository",
            REPO,
            "--stacks",
            str(stacks),
            "--now",
            NOW.isoformat(),
            "--kubernetes-host",
            kube.url,
            "--api-url",
            github.url,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GITHUB_TOKEN": TOKEN},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["pr-1", "pr-2"]
    assert "pr-3: keep (namespace-exists)" in result.stderr
    assert "pr-4: keep (pr-open)" in result.stderr
    # Three PRs to ask about, one list request answered them all.
    assert len(github.state.requests) == 1
    # GitHub failing keeps everything and fails the step.
    github.state.fail[r"/pulls"] = 502
    failed = subprocess.run(
        [
            sys.executable,
            "-m",
            "labpreview.cli",
            "stale-stacks",
            "--repository",
            REPO,
            "--stacks",
            str(stacks),
            "--kubernetes-host",
            kube.url,
            "--api-url",
            github.url,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GITHUB_TOKEN": TOKEN},
        timeout=120,
    )
    assert failed.returncode == 1
    assert failed.stdout == ""


def test_without_the_namespaces_nothing_is_removed(
    servers: tuple[FakeKubeServer, FakeGitHubServer], tmp_path: Path
) -> None:
    kube, github = servers
    github.state.add_pull(REPO, pull(1, "closed", True))
    kube.state.fail[("GET", r"^/api/v1/namespaces$")] = 500
    stacks = tmp_path / "stacks.json"
    stacks.write_text(json.dumps([stack("pr-1")]))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "labpreview.cli",
            "stale-stacks",
            "--repository",
            REPO,
            "--stacks",
            str(stacks),
            "--kubernetes-host",
            kube.url,
            "--api-url",
            github.url,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GITHUB_TOKEN": TOKEN},
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert "cannot list preview namespaces" in result.stderr
    assert github.state.requests == []
