"""Whole janitor runs against local HTTP servers that answer as the Kubernetes API and
GitHub's REST API do (labjanitor.testing: no API server or github.com can be reached here).
The official kubernetes client and the janitor's GitHub client do real HTTP to them."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

import pytest

from labjanitor import labels as L  # noqa: N812
from labjanitor.cli import main
from labjanitor.core.decide import Policy
from labjanitor.core.model import Action, format_time
from labjanitor.github import GitHubClient
from labjanitor.kube import Kube, api_client
from labjanitor.run import Metrics, RunReport, run_once
from labjanitor.testing.fake_github import TOKEN, FakeGitHubServer, pull
from labjanitor.testing.fake_kube import FakeKubeServer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REPO = "example-lab/lab"


def add(
    server: FakeKubeServer,
    name: str,
    pr: int,
    *,
    managed: bool = True,
    expires: datetime | None = None,
    preserve_until: datetime | None = None,
    deployed: bool = True,
    sleep_after: int | None = None,
    updated: datetime | None = None,
    repository: str = REPO,
) -> None:
    labels = {
        L.LABEL_TYPE: L.TYPE_EPHEMERAL,
        L.LABEL_MANAGED_BY: L.MANAGED_BY if managed else "someone-else",
        L.LABEL_PR: str(pr),
    }
    annotations = {
        L.ANNOTATION_REPOSITORY: repository,
        L.ANNOTATION_EXPIRES: format_time(expires or NOW + timedelta(days=3)),
        L.ANNOTATION_UPDATED: format_time(updated or NOW - timedelta(hours=1)),
    }
    if deployed:
        annotations[L.ANNOTATION_DEPLOY_STATUS] = "deployed"
    if preserve_until:
        labels[L.LABEL_PRESERVE] = "true"
        annotations[L.ANNOTATION_PRESERVE_UNTIL] = format_time(preserve_until)
    if sleep_after:
        annotations[L.ANNOTATION_SLEEP_AFTER_HOURS] = str(sleep_after)
    server.state.add_namespace(name, labels, annotations)


def run(
    kube_server: FakeKubeServer,
    github_server: FakeGitHubServer,
    *,
    dry_run: bool = False,
    github: GitHubClient | None = None,
    reserve: int = 0,
) -> tuple[RunReport, Metrics]:
    metrics = Metrics()
    client = github or GitHubClient(TOKEN, base_url=github_server.url, reserve=reserve)
    report = run_once(
        Kube(api_client(kube_server.url)),
        client,
        now=NOW,
        policy=Policy(max_preserved=3),
        dry_run=dry_run,
        metrics=metrics,
    )
    return report, metrics


def _workload(name: str) -> dict[str, object]:
    """A Deployment/StatefulSet spec as the API returns it (selector and template required)."""
    labels = {"app.kubernetes.io/name": name}
    return {
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": "registry.lab.internal/x:1"}]},
            },
        }
    }


def actions(report: RunReport) -> dict[str, tuple[str, str]]:
    return {d.namespace: (d.action.value, d.reason) for d in report.decisions}


def test_a_run_deletes_closed_merged_orphaned_and_idle_and_keeps_the_rest(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    gh = github_server.state
    for number, state, merged in ((1, "open", False), (2, "closed", False), (3, "closed", True)):
        gh.add_pull(REPO, pull(number, state, merged))
    gh.add_pull(REPO, pull(4, "closed"))
    add(kube_server, "lab-pr-1", 1)
    add(kube_server, "lab-pr-2", 2)
    add(kube_server, "lab-pr-3", 3)
    add(kube_server, "lab-pr-4", 4, deployed=False)
    add(kube_server, "lab-pr-5", 5, expires=NOW - timedelta(hours=1))
    add(kube_server, "lab-pr-6", 6)  # GitHub has no PR 6: 404, doubt
    add(kube_server, "other-pr-2", 2, managed=False)
    kube_server.state.add_namespace("kube-system", {"kubernetes.io/metadata.name": "kube-system"})

    report, metrics = run(kube_server, github_server)

    assert actions(report) == {
        "lab-pr-1": ("keep", "open"),
        "lab-pr-2": ("delete", "closed"),
        "lab-pr-3": ("delete", "merged"),
        "lab-pr-4": ("delete", "orphaned"),
        "lab-pr-5": ("delete", "idle"),
        "lab-pr-6": ("keep", "unknown-pr"),
        "other-pr-2": ("keep", "not-managed"),
    }
    assert set(kube_server.state.namespaces) == {
        "lab-pr-1",
        "lab-pr-6",
        "other-pr-2",
        "kube-system",
    }
    assert report.ok
    # One request answered the five pull requests that mattered (1, 2, 3, 4, 6; not the
    # idle one): the repository's list, complete on one page, which has no PR 6.
    assert [p for _, p, _ in gh.requests] == [
        f"/repos/{REPO}/pulls?state=all&sort=created&direction=desc&per_page=100"
    ]
    assert report.github_calls == 1
    value = metrics.registry.get_sample_value
    assert value("lab_janitor_decisions_total", {"action": "delete", "reason": "idle"}) == 1
    assert value("lab_janitor_github_requests_total", {"outcome": "ok"}) == 1
    assert value("lab_janitor_namespaces") == 7
    assert value("lab_janitor_last_success_timestamp_seconds") == NOW.timestamp()


def test_deletion_uses_the_listed_uid_as_a_precondition(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    github_server.state.add_pull(REPO, pull(2, "closed"))
    add(kube_server, "lab-pr-2", 2)
    deletes = [r for r in kube_server.state.requests if r[0] == "DELETE"]
    assert deletes == []
    report, _ = run(kube_server, github_server)
    assert "lab-pr-2" not in kube_server.state.namespaces
    assert [r[1] for r in kube_server.state.requests if r[0] == "DELETE"] == [
        "/api/v1/namespaces/lab-pr-2"
    ]
    assert report.ok


def test_a_namespace_recreated_meanwhile_is_not_deleted(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    github_server.state.add_pull(REPO, pull(2, "closed"))
    add(kube_server, "lab-pr-2", 2)
    kube = Kube(api_client(kube_server.url))
    kube.preview_namespaces()
    add(kube_server, "lab-pr-2", 2)  # same name, new UID
    with pytest.raises(Exception, match="409"):
        kube.delete_namespace("lab-pr-2")
    assert "lab-pr-2" in kube_server.state.namespaces


def test_two_namespaces_of_one_pull_request_cost_one_call(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    github_server.state.add_pull(REPO, pull(8, "merged" and "closed", True))
    add(kube_server, "api-pr-8", 8)
    add(kube_server, "web-pr-8", 8)
    report, _ = run(kube_server, github_server)
    assert report.github_calls == 1
    assert kube_server.state.namespaces == {}


def test_conditional_requests_answer_from_the_cache_on_the_next_run(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    github_server.state.add_pull(REPO, pull(1))
    add(kube_server, "lab-pr-1", 1)
    client = GitHubClient(TOKEN, base_url=github_server.url)
    run(kube_server, github_server, github=client)
    remaining = github_server.state.remaining
    # The cache survives the run the way the CLI keeps it: in a ConfigMap.
    kube = Kube(api_client(kube_server.url))
    kube_server.state.add_namespace("preview-system")
    kube.write_cache("preview-system", "preview-janitor-etags", client.cache)
    again = GitHubClient(
        TOKEN,
        base_url=github_server.url,
        cache=kube.read_cache("preview-system", "preview-janitor-etags"),
    )
    report, metrics = run(kube_server, github_server, github=again)
    assert actions(report)["lab-pr-1"] == ("keep", "open")
    assert github_server.state.requests[-1][2] == 304
    assert github_server.state.remaining == remaining  # a 304 costs nothing
    assert (
        metrics.registry.get_sample_value(
            "lab_janitor_github_requests_total", {"outcome": "not_modified"}
        )
        == 1
    )


def test_a_changed_pull_request_is_seen_despite_the_cache(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    github_server.state.add_pull(REPO, pull(1))
    add(kube_server, "lab-pr-1", 1)
    client = GitHubClient(TOKEN, base_url=github_server.url)
    run(kube_server, github_server, github=client)
    github_server.state.add_pull(REPO, pull(1, "closed", True))
    report, _ = run(
        kube_server,
        github_server,
        github=GitHubClient(TOKEN, base_url=github_server.url, cache=client.cache),
    )
    assert actions(report)["lab-pr-1"] == ("delete", "merged")


def test_at_the_rate_limit_the_rest_is_kept_without_further_calls(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    # One pull request in each of five repositories: one request each.
    for n in range(1, 6):
        github_server.state.add_pull(f"example-lab/r{n}", pull(n, "closed"))
        add(kube_server, f"lab-pr-{n}", n, repository=f"example-lab/r{n}")
    github_server.state.remaining = 2
    report, metrics = run(kube_server, github_server)
    got = actions(report)
    assert [got[f"lab-pr-{n}"] for n in range(1, 6)] == [
        ("delete", "closed"),
        ("delete", "closed"),
        ("keep", "rate-limited"),
        ("keep", "rate-limited"),
        ("keep", "rate-limited"),
    ]
    # The second answer said 0 left: the client made no further request.
    statuses = [s for _, p, s in github_server.state.requests if "/pulls/" in p]
    assert statuses == [200, 200]
    assert report.ok  # a rate limit is not an error: the next run goes on
    assert sorted(kube_server.state.namespaces) == ["lab-pr-3", "lab-pr-4", "lab-pr-5"]
    assert (
        metrics.registry.get_sample_value(
            "lab_janitor_github_requests_total", {"outcome": "rate_limited"}
        )
        == 3
    )


def test_a_refused_request_stops_the_run_asking(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    """The limit was used up by someone else: GitHub answers 403 with remaining 0."""
    for n in range(1, 4):
        github_server.state.add_pull(REPO, pull(n, "closed"))
        add(kube_server, f"lab-pr-{n}", n)
    github_server.state.remaining = 0
    report, _ = run(kube_server, github_server)
    assert {d.reason for d in report.decisions} == {"rate-limited"}
    assert [s for _, _, s in github_server.state.requests] == [403]
    assert len(kube_server.state.namespaces) == 3


def test_a_reserve_stops_before_the_limit(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    for n in range(1, 4):
        github_server.state.add_pull(f"example-lab/r{n}", pull(n, "closed"))
        add(kube_server, f"lab-pr-{n}", n, repository=f"example-lab/r{n}")
    github_server.state.remaining = 12
    report, _ = run(kube_server, github_server, reserve=10)
    assert [d.reason for d in report.decisions] == ["closed", "closed", "rate-limited"]
    assert github_server.state.remaining == 10


def test_secondary_rate_limit_keeps_everything(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    github_server.state.add_pull(REPO, pull(1, "closed"))
    github_server.state.add_pull(REPO, pull(2, "closed"))
    add(kube_server, "lab-pr-1", 1)
    add(kube_server, "lab-pr-2", 2)
    github_server.state.secondary_limit = True
    report, _ = run(kube_server, github_server)
    assert {d.reason for d in report.decisions} == {"rate-limited"}
    assert len(github_server.state.requests) == 1
    assert len(kube_server.state.namespaces) == 2


def test_github_errors_keep_the_namespace_and_fail_the_run(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    github_server.state.add_pull(REPO, pull(1, "closed"))
    add(kube_server, "lab-pr-1", 1)
    github_server.state.fail[r"/pulls/1$"] = 502
    report, _ = run(kube_server, github_server)
    assert actions(report) == {"lab-pr-1": ("keep", "github-error")}
    assert "lab-pr-1" in kube_server.state.namespaces
    assert not report.ok


def test_bad_credentials_keep_everything(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    github_server.state.add_pull(REPO, pull(1, "closed"))
    add(kube_server, "lab-pr-1", 1)
    client = GitHubClient("wrong-token", base_url=github_server.url)
    report, _ = run(kube_server, github_server, github=client)
    assert actions(report) == {"lab-pr-1": ("keep", "github-error")}
    assert "401" in report.errors[0]


def test_dry_run_changes_nothing(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    github_server.state.add_pull(REPO, pull(2, "closed"))
    add(kube_server, "lab-pr-2", 2)
    add(kube_server, "lab-pr-3", 3, expires=NOW - timedelta(days=1))
    report, _ = run(kube_server, github_server, dry_run=True)
    assert {d.action for d in report.decisions} == {Action.DELETE}
    assert sorted(kube_server.state.namespaces) == ["lab-pr-2", "lab-pr-3"]
    assert not [r for r in kube_server.state.requests if r[0] in ("DELETE", "PATCH")]


def test_preserved_expired_and_too_many(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    for n in range(1, 7):
        github_server.state.add_pull(REPO, pull(n, "open" if n != 5 else "closed"))
    for n in range(1, 5):  # four preserved: the limit is three
        add(kube_server, f"lab-pr-{n}", n, preserve_until=NOW + timedelta(hours=n))
    add(kube_server, "lab-pr-5", 5, preserve_until=NOW - timedelta(hours=1))
    add(kube_server, "lab-pr-6", 6, preserve_until=NOW - timedelta(hours=1))
    report, _ = run(kube_server, github_server)
    got = actions(report)
    assert got["lab-pr-1"] == ("keep", "preserved")
    assert got["lab-pr-5"] == ("delete", "expired")
    assert got["lab-pr-6"] == ("unpreserve", "expired")
    assert got["lab-pr-2"] == ("keep", "preserved")
    assert got["lab-pr-3"] == ("keep", "preserved")
    # The fourth live preservation (the furthest deadline) is beyond the limit of three.
    assert got["lab-pr-4"] == ("keep", "open")
    labels = kube_server.state.namespaces["lab-pr-6"]["metadata"]["labels"]
    annotations = kube_server.state.namespaces["lab-pr-6"]["metadata"]["annotations"]
    assert L.LABEL_PRESERVE not in labels
    assert L.ANNOTATION_PRESERVE_UNTIL not in annotations
    assert "lab-pr-5" not in kube_server.state.namespaces


def test_idle_environments_are_put_to_sleep(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    github_server.state.add_pull(REPO, pull(1))
    add(kube_server, "lab-pr-1", 1, sleep_after=12, updated=NOW - timedelta(hours=13))
    for collection, name in (
        ("apps/v1/deployments", "app"),
        ("apps/v1/deployments", "redis"),
        ("apps/v1/statefulsets", "mariadb"),
    ):
        kube_server.state.add_object(collection, "lab-pr-1", name, _workload(name))
    kube_server.state.add_object(
        "postgresql.cnpg.io/v1/clusters", "lab-pr-1", "postgresql", {"spec": {"instances": 1}}
    )
    report, _ = run(kube_server, github_server)
    assert actions(report) == {"lab-pr-1": ("sleep", "idle-sleep")}
    objects = kube_server.state.objects
    assert objects[("apps/v1/deployments", "lab-pr-1", "app")]["spec"]["replicas"] == 0
    assert objects[("apps/v1/statefulsets", "lab-pr-1", "mariadb")]["spec"]["replicas"] == 0
    cluster = objects[("postgresql.cnpg.io/v1/clusters", "lab-pr-1", "postgresql")]
    assert cluster["metadata"]["annotations"]["cnpg.io/hibernation"] == "on"
    meta = kube_server.state.namespaces["lab-pr-1"]["metadata"]
    assert meta["annotations"][L.ANNOTATION_SLEEPING_SINCE] == format_time(NOW)
    # Asleep already: the next run leaves it alone.
    report, _ = run(kube_server, github_server)
    assert actions(report) == {"lab-pr-1": ("keep", "open")}


def test_a_failed_deletion_is_counted_and_fails_the_run(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer
) -> None:
    github_server.state.add_pull(REPO, pull(2, "closed"))
    add(kube_server, "lab-pr-2", 2)
    kube_server.state.fail[("DELETE", r"/namespaces/lab-pr-2$")] = 500
    report, metrics = run(kube_server, github_server)
    assert not report.ok
    assert (
        metrics.registry.get_sample_value("lab_janitor_actions_failed_total", {"action": "delete"})
        == 1
    )
    assert metrics.registry.get_sample_value("lab_janitor_last_success_timestamp_seconds") == 0


def test_listing_is_paged(kube_server: FakeKubeServer, github_server: FakeGitHubServer) -> None:
    for n in range(1, 8):
        add(kube_server, f"lab-pr-{n}", n, expires=NOW - timedelta(hours=1))
    namespaces = Kube(api_client(kube_server.url)).preview_namespaces(page_size=3)
    assert len(namespaces) == 7
    lists = [p for m, p in kube_server.state.requests if m == "GET" and "limit=3" in p]
    assert len(lists) == 3


def test_one_log_line_per_decision(
    kube_server: FakeKubeServer, github_server: FakeGitHubServer, caplog: pytest.LogCaptureFixture
) -> None:
    github_server.state.add_pull(REPO, pull(1))
    github_server.state.add_pull(REPO, pull(2, "closed", True))
    add(kube_server, "lab-pr-1", 1)
    add(kube_server, "lab-pr-2", 2)
    with caplog.at_level(logging.INFO, logger="labjanitor"):
        run(kube_server, github_server)
    lines = [r for r in caplog.records if r.getMessage() == "decision"]
    assert len(lines) == 2
    fields = [r.labkit_fields for r in lines]  # type: ignore[attr-defined]
    assert fields[1]["namespace"] == "lab-pr-2"
    assert fields[1]["action"] == "delete"
    assert fields[1]["reason"] == "merged"
    assert fields[1]["pr"] == 2
    assert fields[1]["repository"] == REPO


def test_cli_exit_status_and_settings(
    kube_server: FakeKubeServer,
    github_server: FakeGitHubServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key in list(os.environ):
        if key.startswith("JANITOR_"):
            monkeypatch.delenv(key)
    assert main([]) == 2
    assert "JANITOR_GITHUB_TOKEN: required but not set" in capsys.readouterr().err
    github_server.state.add_pull(REPO, pull(2, "closed"))
    kube_server.state.add_namespace("preview-system")
    add(kube_server, "lab-pr-2", 2, expires=datetime.now(UTC) + timedelta(days=1))
    monkeypatch.setenv("JANITOR_GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("JANITOR_GITHUB_API_URL", github_server.url)
    monkeypatch.setenv("JANITOR_KUBERNETES_HOST", kube_server.url)
    monkeypatch.setenv("JANITOR_CACHE_NAMESPACE", "preview-system")
    assert main(["--dry-run"]) == 0
    assert "lab-pr-2" in kube_server.state.namespaces
    assert main([]) == 0
    assert "lab-pr-2" not in kube_server.state.namespaces
    cache = kube_server.state.objects[("v1/configmaps", "preview-system", "preview-janitor-etags")]
    assert f"/repos/{REPO}/pulls/2" in cache["data"]["etags.json"]
    assert len(cache["data"]["etags.json"]) < 1000  # only the fields the janitor reads
    github_server.state.fail[r"/pulls/"] = 500
    add(kube_server, "lab-pr-3", 3, expires=datetime.now(UTC) + timedelta(days=1))
    assert main([]) == 1
