"""The `k8s-ee/deploy-status` commit status on a pull request's head commit.

`lab-preview status` runs as a process and does real HTTP to a local server that answers
as GitHub's "Create a commit status" endpoint does (labjanitor.testing.fake_github, which
lists what it models; github.com cannot be reached here). The workflow tests read
preview-deploy.yml as data: the steps that post the status exist, on the triggering run's
head SHA, with the least privilege that allows it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from labjanitor.testing import fake_github
from labjanitor.testing.fake_github import TOKEN, FakeGitHubServer, pull
from labpreview.workflow import STATUS_CONTEXT, StatusRefusedError, status_body

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / ".github/workflows/preview-deploy.yml"
REPOSITORY = "example-lab/lab"
HEAD = "0123456789abcdef0123456789abcdef01234567"
URL = "https://lab-pr-7.preview.lab.internal"
RUN_URL = "https://github.com/example-lab/lab/actions/runs/42"


@pytest.fixture
def github_server() -> Iterator[FakeGitHubServer]:
    for server in fake_github.running():
        server.state.add_pull(REPOSITORY, pull(7, head_sha=HEAD))
        yield server


def _status(server: FakeGitHubServer, *args: str, token: str = TOKEN) -> Any:
    env = {**os.environ, "GITHUB_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-m", "labpreview.cli", "status", "--api-url", server.url, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env=env,
    )


def test_pending_then_success_with_the_preview_url(github_server: FakeGitHubServer) -> None:
    common = ("--repository", REPOSITORY, "--sha", HEAD)
    pending = _status(
        github_server, *common, "--state", "pending", "--target-url", RUN_URL,
        "--description", "Deploying the preview",
    )  # fmt: skip
    assert pending.returncode == 0, pending.stderr
    done = _status(
        github_server, *common, "--state", "success", "--target-url", URL,
        "--description", "Preview deployed",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"status: {STATUS_CONTEXT} success on {HEAD[:12]}\n"

    posted = github_server.state.statuses[(REPOSITORY, HEAD)]
    assert [(s["context"], s["state"], s["target_url"]) for s in posted] == [
        ("k8s-ee/deploy-status", "pending", RUN_URL),
        ("k8s-ee/deploy-status", "success", URL),
    ]
    assert [(m, p, c) for m, p, c in github_server.state.requests] == [
        ("POST", f"/repos/{REPOSITORY}/statuses/{HEAD}", 201),
        ("POST", f"/repos/{REPOSITORY}/statuses/{HEAD}", 201),
    ]


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("--sha", HEAD, "--state", "success"), "target-url"),  # success names the preview
        (("--sha", HEAD[:12], "--state", "pending"), "full 40-character"),
        (("--sha", "main", "--state", "pending"), "full 40-character"),
        (("--sha", HEAD, "--state", "deployed"), "not one of pending, success"),
        (("--sha", HEAD, "--state", "success", "--target-url", "javascript:x"), "http(s)"),
    ],
)
def test_wrong_statuses_are_refused_before_any_request(
    github_server: FakeGitHubServer, args: tuple[str, ...], why: str
) -> None:
    result = _status(github_server, "--repository", REPOSITORY, *args)
    assert result.returncode == 2
    assert why in result.stderr
    assert github_server.state.requests == []


def test_github_refusals_fail_the_step(github_server: FakeGitHubServer) -> None:
    """A commit GitHub does not have (422) and a bad token (401) exit 1, naming the error."""
    other = "f" * 40
    unknown = _status(github_server, "--repository", REPOSITORY, "--sha", other,
                      "--state", "pending")  # fmt: skip
    assert unknown.returncode == 1
    assert "422 No commit found" in unknown.stderr
    denied = _status(github_server, "--repository", REPOSITORY, "--sha", HEAD,
                     "--state", "pending", token="wrong")  # fmt: skip
    assert denied.returncode == 1
    assert "401" in denied.stderr
    assert (REPOSITORY, HEAD) not in github_server.state.statuses


def test_a_long_description_is_cut_to_what_github_accepts(github_server: FakeGitHubServer) -> None:
    result = _status(
        github_server, "--repository", REPOSITORY, "--sha", HEAD, "--state", "failure",
        "--target-url", RUN_URL, "--description", "x" * 300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (posted,) = github_server.state.statuses[(REPOSITORY, HEAD)]
    assert len(posted["description"]) == 140
    assert posted["description"].endswith("\u2026")


def test_the_fake_refuses_what_github_refuses(github_server: FakeGitHubServer) -> None:
    """Without the cut, the fake answers 422 as GitHub does (so the test above can fail)."""
    from labjanitor.github import GitHubClient, GitHubError

    with GitHubClient(TOKEN, base_url=github_server.url) as client, pytest.raises(GitHubError):
        client.create_status(REPOSITORY, HEAD, "pending", context="c", description="x" * 141)
    with pytest.raises(StatusRefusedError):
        status_body("success", HEAD, "", "")


# --- the workflow ----------------------------------------------------------------------


def _deploy_job() -> dict[str, Any]:
    data = yaml.safe_load(DEPLOY.read_text(encoding="utf-8"))
    assert data["permissions"] == {}  # nothing at the workflow level
    job: dict[str, Any] = data["jobs"]["deploy"]
    return job


def _status_steps(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    steps = {}
    for step in job["steps"]:
        run = step.get("run", "").replace("\\\n", " ")
        if "lab-preview status" in run:
            words = run.split()
            steps[words[words.index("--state") + 1]] = {**step, "run": run}
    return steps


def test_preview_deploy_has_least_privilege_to_write_statuses() -> None:
    job = _deploy_job()
    assert job["permissions"] == {
        "actions": "read",
        "contents": "read",
        "pull-requests": "write",
        "statuses": "write",
    }


def test_preview_deploy_posts_the_status_on_the_triggering_runs_head_sha() -> None:
    job = _deploy_job()
    # The triggering (pull_request) run's head commit, not this run's default branch.
    assert job["env"]["EVENT_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    assert job["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    steps = _status_steps(job)
    assert set(steps) == {"pending", "success", "failure", "error"}
    for step in steps.values():
        assert '--sha "$EVENT_SHA"' in step["run"]
        assert '--repository "$REPOSITORY"' in step["run"]
        assert "${{" not in step["run"]  # values through env only (no template injection)

    names = [s.get("id") or s.get("name") for s in job["steps"]]
    pending, success = steps["pending"], steps["success"]
    assert names.index(pending["id"]) < names.index("up") < names.index(success["id"])
    assert pending["if"] == (
        "steps.pr.outputs.state == 'open' && steps.pr.outputs.deploy == 'true'"
    )
    # Success links the preview: the URL the up step read from the stack's outputs.
    assert success["if"] == "steps.up.outcome == 'success'"
    assert success["env"]["URL"] == "${{ steps.up.outputs.url }}"
    assert '--target-url "$URL"' in success["run"]
    # Failure and cancellation link the run's log, and only replace a pending status.
    for state, when in (("failure", "failure()"), ("error", "cancelled()")):
        step = steps[state]
        assert step["if"].startswith(when)
        assert "steps.pending.outcome == 'success'" in step["if"]
        assert "steps.deployed.outcome != 'success'" in step["if"]
        assert '--target-url "$RUN_URL"' in step["run"]
        assert names.index(step.get("id") or step["name"]) > names.index(success["id"])


# --- the namespace's k8s-ee/deploy-status annotation (read by the janitor) -------------


def _mark(kube_url: str, *args: str) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "labpreview.cli", "mark-deploy", "--kubernetes-host", kube_url,
         *args],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip


@pytest.fixture
def kube_server() -> Iterator[Any]:
    from labjanitor.testing import fake_kube

    yield from fake_kube.running()


def test_mark_deploy_annotates_the_namespace_the_janitor_reads(
    kube_server: Any, tmp_path: Path
) -> None:
    """Against a local server that answers as the Kubernetes API does (labjanitor.testing.
    fake_kube; no API server here): the annotation is written, and the janitor's decision
    for a closed PR turns from `orphaned` to `closed` because of it."""
    from datetime import UTC, datetime

    from labjanitor import labels as L  # noqa: N812
    from labjanitor.core.decide import decide
    from labjanitor.core.model import PrState
    from labjanitor.kube import Kube, api_client

    kube = kube_server
    managed = {L.LABEL_TYPE: L.TYPE_EPHEMERAL, L.LABEL_MANAGED_BY: L.MANAGED_BY, L.LABEL_PR: "7"}
    kube.state.add_namespace("lab-pr-7", managed, {L.ANNOTATION_REPOSITORY: REPOSITORY})
    kube.state.add_namespace("other-pr-7", {**managed, L.LABEL_MANAGED_BY: "someone"})

    def annotations(name: str) -> dict[str, str]:
        return dict(kube.state.namespaces[name]["metadata"].get("annotations") or {})

    def decision() -> str:
        listed = Kube(api_client(kube.url)).preview_namespaces()
        (ns,) = [n for n in listed if n.name == "lab-pr-7"]
        return decide(ns, PrState.CLOSED, datetime.now(UTC)).reason

    assert decision() == "orphaned"
    done = _mark(kube.url, "--namespace", "lab-pr-7", "--status", "deployed")
    assert done.returncode == 0, done.stderr
    assert annotations("lab-pr-7")[L.ANNOTATION_DEPLOY_STATUS] == "deployed"
    assert annotations("lab-pr-7")[L.ANNOTATION_REPOSITORY] == REPOSITORY  # merged in
    assert decision() == "closed"

    # A failed deploy, the namespace named from the config as the workflow does.
    config = tmp_path / "k8s-ee.yaml"
    config.write_text("projectId: lab\n")
    failed = _mark(kube.url, "--config", str(config), "--pr", "7", "--status", "failed")
    assert failed.returncode == 0, failed.stderr
    assert annotations("lab-pr-7")[L.ANNOTATION_DEPLOY_STATUS] == "failed"
    assert decision() == "orphaned"

    # Nothing to mark when the deploy failed before making its namespace; a success
    # without one is an error; a namespace that is not ours is refused.
    assert _mark(kube.url, "--namespace", "lab-pr-8", "--status", "failed").returncode == 0
    assert _mark(kube.url, "--namespace", "lab-pr-8", "--status", "deployed").returncode == 1
    refused = _mark(kube.url, "--namespace", "other-pr-7", "--status", "deployed")
    assert refused.returncode == 3
    assert L.ANNOTATION_DEPLOY_STATUS not in annotations("other-pr-7")
    assert _mark(kube.url, "--status", "deployed").returncode == 2


def test_preview_deploy_marks_the_namespace() -> None:
    job = _deploy_job()
    steps = {s.get("name"): s for s in job["steps"]}
    tools = next(s for s in job["steps"] if s.get("uses") == "./.github/actions/lab-tools")
    assert tools["with"]["kubeconfig"] == "true"
    deployed = steps["Mark the namespace deployed"]
    assert deployed["if"] == "steps.up.outcome == 'success'"
    assert deployed["env"]["NAMESPACE"] == "${{ steps.up.outputs.namespace }}"
    assert "--status deployed" in deployed["run"]
    failed = steps["Mark the namespace failed"]
    assert failed["if"] == "failure() && steps.up.outcome == 'failure'"
    assert '--config "$RUNNER_TEMP/preview/k8s-ee.yaml"' in failed["run"]
    assert "--status failed" in failed["run"]
    names = [s.get("name") for s in job["steps"]]
    # Marked before the success status, so a failure to mark reports the deploy failed.
    assert names.index("Mark the namespace deployed") < names.index("Status deployed")
