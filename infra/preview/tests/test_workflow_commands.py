"""The workflow commands as Python: allow-list, fork gate, sticky comment, /preserve,
stack config, images. GitHub is a local server answering as its REST API does
(labjanitor.testing.fake_github)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from labjanitor.github import GitHubClient
from labjanitor.testing import fake_github
from labjanitor.testing.fake_github import TOKEN, FakeGitHubServer
from labpreview.workflow import (
    MARKER,
    CommentFacts,
    PreserveRefusedError,
    PreserveRequest,
    check_access,
    check_pull_access,
    decide_preserve,
    deploy_gate,
    image_builds,
    parse_preserve,
    preserve_warnings,
    render_comment,
    stack_config,
    upsert_comment,
)

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def github_server() -> Iterator[FakeGitHubServer]:
    yield from fake_github.running()


ALLOW = {"mode": "allowlist", "organizations": ["Example-Lab"], "repositories": ["friend/tool"]}
DENY = {"mode": "denylist", "organizations": ["spammer"], "repositories": ["example-lab/secret"]}


@pytest.mark.parametrize(
    ("policy", "repository", "allowed"),
    [
        (ALLOW, "example-lab/lab", True),
        (ALLOW, "EXAMPLE-LAB/Lab", True),  # case-insensitive
        (ALLOW, "friend/tool", True),  # per-repository override
        (ALLOW, "friend/other", False),
        (ALLOW, "stranger/lab", False),
        ({"mode": "allowlist", "organizations": []}, "example-lab/lab", False),  # empty denies
        (DENY, "spammer/x", False),
        (DENY, "example-lab/secret", False),  # per-repository override
        (DENY, "example-lab/lab", True),
        ({"mode": "disabled", "organizations": []}, "anyone/x", True),
        ({"mode": "sometimes", "organizations": ["a"]}, "a/x", False),
        (None, "example-lab/lab", False),  # no file: nothing allowed
    ],
)
def test_allow_list(policy: dict[str, object] | None, repository: str, allowed: bool) -> None:
    assert check_access(policy, repository).allowed is allowed


def test_a_fork_must_be_allowed_too() -> None:
    assert check_pull_access(ALLOW, "example-lab/lab", "example-lab/lab").allowed
    assert not check_pull_access(ALLOW, "example-lab/lab", "stranger/lab").allowed
    assert check_pull_access(ALLOW, "example-lab/lab", "friend/tool").allowed


def test_this_repositorys_allow_list_is_valid_for_the_original_schema() -> None:
    import json

    import jsonschema

    policy = json.loads((REPO / ".github/config/allowed-orgs.json").read_text())
    # The original's allowed-orgs.schema.json @ddd901c, its keys and rules.
    schema = {
        "type": "object",
        "required": ["mode", "organizations"],
        "additionalProperties": False,
        "properties": {
            "mode": {"enum": ["allowlist", "denylist", "disabled"]},
            "description": {"type": "string"},
            "organizations": {"type": "array", "items": {"type": "string"}},
            "repositories": {"type": "array", "items": {"type": "string"}},
        },
    }
    jsonschema.validate(policy, schema)
    assert check_access(policy, "example-lab/lab").allowed


def test_forks_wait_for_the_maintainers_label() -> None:
    assert deploy_gate("example-lab/lab", "example-lab/lab", []).allowed
    assert not deploy_gate("example-lab/lab", "stranger/lab", []).allowed
    assert not deploy_gate("example-lab/lab", "stranger/lab", ["bug"]).allowed
    assert deploy_gate("example-lab/lab", "stranger/lab", ["bug", "preview"]).allowed


FACTS = CommentFacts(
    state="deployed",
    namespace="lab-pr-7",
    commit=SHA,
    branch="feature/<script>|x",
    url="https://lab-pr-7.preview.lab.internal",
    grafana_url="https://grafana.lab.internal/d/preview-environment?var-namespace=lab-pr-7",
    urls={
        "app": "https://lab-pr-7.preview.lab.internal",
        "picotemp": "https://picotemp-lab-pr-7.preview.lab.internal",
    },
)


def test_comment_states() -> None:
    deployed = render_comment(FACTS, NOW)
    assert deployed.startswith(MARKER + "\n## Preview environment ready")
    assert "https://lab-pr-7.preview.lab.internal" in deployed
    assert "picotemp-lab-pr-7" in deployed
    assert "`lab-pr-7`" in deployed
    assert "`0123456789ab`" in deployed
    assert "[dashboard](https://grafana.lab.internal/" in deployed
    assert "<script>" not in deployed  # branch names are untrusted text
    assert "feature/&lt;script&gt;\\|x" in deployed
    failed = render_comment(
        CommentFacts(
            "failed", "lab-pr-7", SHA, "main", run_url="https://github.com/x/y/actions/runs/1"
        ),
        NOW,
    )
    assert "## Preview environment failed" in failed
    assert "[Workflow logs](https://github.com/x/y/actions/runs/1)" in failed
    destroyed = render_comment(CommentFacts("destroyed", "lab-pr-7", SHA, "main", merged=True), NOW)
    assert "| **Merged** | yes |" in destroyed
    preserved = render_comment(
        CommentFacts("preserved", "lab-pr-7", SHA, "main", preserve_until="2026-03-03 12:00 UTC"),
        NOW,
    )
    assert "| **Preserved until** | 2026-03-03 12:00 UTC |" in preserved
    with pytest.raises(ValueError, match="state"):
        render_comment(CommentFacts("exploded", "x", SHA, "main"), NOW)


def test_one_sticky_comment_edited_in_place_past_the_first_page(
    github_server: FakeGitHubServer,
) -> None:
    key = ("example-lab/lab", 7)
    github_server.state.comments[key] = [{"id": i, "body": f"chatter {i}"} for i in range(1, 151)]
    with GitHubClient(TOKEN, base_url=github_server.url) as github:
        first = upsert_comment(github, "example-lab/lab", 7, render_comment(FACTS, NOW))
        github_server.state.comments[key] += [{"id": 900 + i, "body": "more"} for i in range(120)]
        second = upsert_comment(
            github,
            "example-lab/lab",
            7,
            render_comment(CommentFacts("destroyed", "lab-pr-7", SHA, "main"), NOW),
        )
    assert first == second
    marked = [c for c in github_server.state.comments[key] if MARKER in c["body"]]
    assert len(marked) == 1
    assert "destroyed" in marked[0]["body"]
    # The marked comment was on page 2 of 3 the second time: every page was read.
    pages = [p for m, p, _ in github_server.state.requests if m == "GET" and "page=3" in p]
    assert pages


@pytest.mark.parametrize(
    ("body", "association", "hours"),
    [
        ("/preserve", "OWNER", 48),
        ("/preserve 12", "MEMBER", 12),
        ("/preserve 48\nthanks", "COLLABORATOR", 48),
        ("  /preserve 1", "member", 1),
    ],
)
def test_preserve_is_parsed(body: str, association: str, hours: int) -> None:
    assert parse_preserve(body, association) == PreserveRequest(hours)


@pytest.mark.parametrize(
    ("body", "association", "why"),
    [
        ("/preserve", "CONTRIBUTOR", "owners, members and collaborators"),
        ("/preserve", "NONE", "owners, members and collaborators"),
        ("/preserve", "FIRST_TIME_CONTRIBUTOR", "owners, members and collaborators"),
        ("/preserve 49", "OWNER", "from 1 to 48"),
        ("/preserve 0", "OWNER", "from 1 to 48"),
        ("/preserve -3", "OWNER", "from 1 to 48"),
        ("/preserve 2 days", "OWNER", "usage"),
        ("please /preserve", "OWNER", "not a /preserve"),
    ],
)
def test_preserve_is_refused(body: str, association: str, why: str) -> None:
    with pytest.raises(PreserveRefusedError, match=why):
        parse_preserve(body, association)


def test_at_most_three_preserved_and_repeating_extends() -> None:
    soon, later = NOW + timedelta(hours=5), NOW + timedelta(hours=30)
    two = {"a-pr-1": soon, "a-pr-2": later}
    decision = decide_preserve(PreserveRequest(24), "a-pr-3", two, NOW)
    assert decision.until == NOW + timedelta(hours=24)
    assert not decision.extended
    three = {**two, "a-pr-3": soon}
    with pytest.raises(PreserveRefusedError, match="at most 3"):
        decide_preserve(PreserveRequest(24), "a-pr-4", three, NOW)
    extended = decide_preserve(PreserveRequest(48), "a-pr-1", three, NOW)
    assert extended.extended
    assert extended.until == NOW + timedelta(hours=48)
    # An expired preservation leaves its place free.
    stale = {**two, "a-pr-3": NOW - timedelta(hours=1)}
    assert decide_preserve(PreserveRequest(1), "a-pr-4", stale, NOW).until == NOW + timedelta(
        hours=1
    )


def _ns(name: str, until: datetime, warned: bool = False, pr: str = "7") -> dict[str, object]:
    return {
        "metadata": {
            "name": name,
            "labels": {
                "preserve": "true",
                "app.kubernetes.io/managed-by": "lab-preview",
                "k8s-ee/pr-number": pr,
            },
            "annotations": {
                "k8s-ee/preserve-until": until.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "k8s-ee/repository": "example-lab/lab",
                **({"k8s-ee/preserve-warning-sent": "true"} if warned else {}),
            },
        }
    }


def test_a_warning_one_hour_before_expiry_once() -> None:
    spaces = [
        _ns("a-pr-1", NOW + timedelta(minutes=50)),
        _ns("a-pr-2", NOW + timedelta(minutes=50), warned=True),
        _ns("a-pr-3", NOW + timedelta(hours=3)),
        _ns("a-pr-4", NOW - timedelta(minutes=5)),
    ]
    assert preserve_warnings(spaces, NOW) == [
        ("a-pr-1", "example-lab/lab", 7, NOW + timedelta(minutes=50))
    ]


def test_stack_config_adds_the_prs_keys() -> None:
    base = yaml.safe_load((REPO / "infra/projects/preview/Pulumi.lab.yaml").read_text())
    doc = stack_config(base, "projectId: x\n", 7, "main", SHA, NOW, NOW)
    assert doc["config"]["lab-preview:prNumber"] == 7
    assert doc["config"]["lab-preview:previewDomain"] == "preview.lab.internal"
    with pytest.raises(ValueError, match="commit"):
        stack_config(base, "projectId: x\n", 7, "main", "HEAD", NOW, NOW)


def test_images_are_built_once_per_dockerfile() -> None:
    builds = image_builds(REPO / "k8s-ee.yaml", "registry.lab.internal", SHA)
    assert [b["dockerfile"] for b in builds] == ["apps/dome/Dockerfile", "apps/picotemp/Dockerfile"]
    assert all(b["image"].endswith(":" + SHA) for b in builds)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labpreview.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def test_cli_exit_codes() -> None:
    assert _cli("access", "--repository", "example-lab/lab").returncode == 0
    denied = _cli("access", "--repository", "stranger/lab")
    assert denied.returncode == 3
    assert "not on the allow-list" in denied.stdout
    assert (
        _cli("preserve-check", "--body", "/preserve 5", "--association", "MEMBER").stdout
        == "hours=5\n"
    )
    assert _cli("preserve-check", "--body", "/preserve", "--association", "NONE").returncode == 3
    assert _cli("gate", "--repository", "a/b", "--head", "c/b").returncode == 3
    out = _cli(
        "comment",
        "--repository",
        "a/b",
        "--pr",
        "1",
        "--state",
        "deployed",
        "--namespace",
        "x-pr-1",
        "--commit",
        SHA,
        "--branch",
        "main",
        "--url",
        "https://x",
        "--dry-run",
    )
    assert out.returncode == 0
    assert out.stdout.startswith(MARKER)


def test_cli_render_writes_one_file_per_object(tmp_path: Path) -> None:
    result = _cli(
        "render",
        "k8s-ee.yaml",
        "--pr",
        "5",
        "--branch",
        "feature/x",
        "--commit",
        SHA,
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "lab-preview" / "pr-5").glob("*.yaml"))
    docs = [yaml.safe_load(f.read_text()) for f in files]
    kinds = {d.get("kind") for d in docs}
    assert {
        "Namespace",
        "Deployment",
        "Service",
        "Ingress",
        "NetworkPolicy",
        "ResourceQuota",
        "Secret",
    } <= kinds
    secrets = [d for d in docs if d.get("kind") == "Secret"]
    assert all(set(d["stringData"].values()) == {"<secret>"} for d in secrets)
    pull = next(d for d in secrets if d["metadata"]["name"] == "registry-pull")
    assert list(pull["stringData"]) == [".dockerconfigjson"]  # keys kept


def test_cli_render_refuses_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "k8s-ee.yaml"
    bad.write_text("projectId: Nope\n")
    result = _cli(
        "render", str(bad), "--pr", "5", "--branch", "x", "--commit", SHA, "--out", str(tmp_path)
    )
    assert result.returncode == 2
    assert "projectId" in result.stderr
    assert not (tmp_path / "lab-preview").exists()


def test_pr_facts_trust_github_not_the_artifact(github_server: FakeGitHubServer) -> None:
    from labjanitor.testing.fake_github import pull
    from labpreview.workflow import pr_facts

    github_server.state.add_pull(
        "example-lab/lab", pull(9, head_sha=SHA, head_repository="stranger/lab", labels=("bug",))
    )
    with GitHubClient(TOKEN, base_url=github_server.url) as github:
        facts = pr_facts(
            github, "example-lab/lab", SHA, {"number": 9, "labels": ["preview"]}, "preview"
        )
        assert facts["deploy"] == "false"  # the artifact's "labels" are ignored
        with pytest.raises(PreserveRefusedError, match="head is"):
            pr_facts(github, "example-lab/lab", "f" * 40, {"number": 9}, "preview")
    github_server.state.add_pull(
        "example-lab/lab",
        pull(9, head_sha=SHA, head_repository="stranger/lab", labels=("preview",)),
    )
    with GitHubClient(TOKEN, base_url=github_server.url) as github:
        assert (
            pr_facts(github, "example-lab/lab", SHA, {"number": 9}, "preview")["deploy"] == "true"
        )


def test_preserve_command_against_a_local_kubernetes_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Kubernetes API is labjanitor.testing.fake_kube, a local server answering as it does."""
    from labjanitor.testing import fake_kube
    from labpreview.cli import main

    server = fake_kube.FakeKubeServer().start()
    try:
        ours = {"k8s-ee/type": "ephemeral", "app.kubernetes.io/managed-by": "lab-preview"}
        for i in range(1, 5):
            server.state.add_namespace(f"lab-pr-{i}", {**ours, "k8s-ee/pr-number": str(i)})
        args = [
            "preserve",
            "--body",
            "/preserve 24",
            "--association",
            "MEMBER",
            "--user",
            "alice",
            "--now",
            "2026-03-01T12:00:00Z",
            "--kubernetes-host",
            server.url,
        ]
        for i in (1, 2, 3):
            assert main([*args, "--namespace", f"lab-pr-{i}"]) == 0
        meta = server.state.namespaces["lab-pr-1"]["metadata"]
        assert meta["labels"]["preserve"] == "true"
        assert meta["annotations"]["k8s-ee/preserve-until"] == "2026-03-02T12:00:00Z"
        assert main([*args, "--namespace", "lab-pr-4"]) == 3  # a fourth is refused
        assert "preserve" not in server.state.namespaces["lab-pr-4"]["metadata"]["labels"]
        assert (
            main(
                [
                    *args[:-4],
                    "--now",
                    "2026-03-01T13:00:00Z",
                    "--kubernetes-host",
                    server.url,
                    "--namespace",
                    "lab-pr-2",
                ]
            )
            == 0
        )  # repeating extends
        meta = server.state.namespaces["lab-pr-2"]["metadata"]
        assert meta["annotations"]["k8s-ee/preserve-until"] == "2026-03-02T13:00:00Z"
        stranger = [
            "preserve",
            "--body",
            "/preserve",
            "--association",
            "CONTRIBUTOR",
            "--user",
            "eve",
            "--kubernetes-host",
            server.url,
            "--namespace",
            "lab-pr-4",
        ]
        assert main(stranger) == 3
    finally:
        server.stop()


def test_stack_config_keeps_the_encryption_salt(tmp_path: Path) -> None:
    """`pulumi stack select --create` writes the passphrase provider's salt into the PR's
    stack file before `stack-config` writes its keys: losing it loses the stack's secrets."""
    out = tmp_path / "Pulumi.pr-7.yaml"
    salt = "v1:RMJFAiu8yyU=:v1:NhDBdi+YYKnnhx0q:l+mhKNIyREq47JDpMo96YF7064Nx8w=="
    out.write_text(f"encryptionsalt: {salt}\nconfig:\n  lab-preview:prNumber: 3\n")
    result = _cli(
        "stack-config",
        "--base",
        str(REPO / "infra/projects/preview/Pulumi.lab.yaml"),
        "--config",
        str(REPO / "k8s-ee.yaml"),
        "--pr",
        "7",
        "--branch",
        "main",
        "--commit",
        SHA,
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(out.read_text())
    assert doc["encryptionsalt"] == salt
    assert doc["config"]["lab-preview:prNumber"] == 7
