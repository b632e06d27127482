"""Benchmark: one janitor run over 500 preview namespaces against the local fake Kubernetes
and GitHub APIs (labjanitor.testing), dry-run. Target: under 1 s, at most one GitHub
request per pull request."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from labjanitor import labels as L  # noqa: N812
from labjanitor.core.decide import Policy
from labjanitor.core.model import format_time
from labjanitor.github import GitHubClient
from labjanitor.kube import Kube, api_client
from labjanitor.run import Metrics, run_once
from labjanitor.testing.fake_github import TOKEN, FakeGitHubServer, pull
from labjanitor.testing.fake_kube import FakeKubeServer

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def main() -> None:
    kube_server, gh_server = FakeKubeServer().start(), FakeGitHubServer().start()
    try:
        for n in range(1, 501):
            state = ("open", "closed", "merged")[n % 3]
            gh_server.state.add_pull(
                "example-lab/lab",
                pull(n, "closed" if state != "open" else "open", state == "merged"),
            )
            kube_server.state.add_namespace(
                f"lab-pr-{n}",
                {
                    L.LABEL_TYPE: L.TYPE_EPHEMERAL,
                    L.LABEL_MANAGED_BY: L.MANAGED_BY,
                    L.LABEL_PR: str(n),
                },
                {
                    L.ANNOTATION_REPOSITORY: "example-lab/lab",
                    L.ANNOTATION_EXPIRES: format_time(NOW + timedelta(days=1 if n % 10 else -1)),
                    L.ANNOTATION_DEPLOY_STATUS: "deployed",
                },
            )
        started = time.perf_counter()
        with GitHubClient(TOKEN, base_url=gh_server.url) as github:
            report = run_once(
                Kube(api_client(kube_server.url)),
                github,
                now=NOW,
                policy=Policy(),
                dry_run=True,
                metrics=Metrics(),
            )
        elapsed = time.perf_counter() - started
        prs = len({d.pull for d in report.decisions if d.pull})
        print(
            f"janitor: {len(report.decisions)} namespaces decided in {elapsed:.3f} s "
            f"(target < 1 s); {report.github_calls} GitHub requests for {prs} pull requests "
            f"(target <= 1 per PR)"
        )
    finally:
        kube_server.stop()
        gh_server.stop()


if __name__ == "__main__":
    main()
