"""Benchmark: one janitor run over 500 preview namespaces against the local fake Kubernetes
and GitHub APIs (labjanitor.testing), dry-run. Target: under 1 s, at most one GitHub
request per pull request.

Runs in one process, for ratios that do not depend on the machine's load:
- `listed`: the 500 namespaces of one repository, as the janitor meets them; their pull
  requests are answered by the repository's list of pull requests (labjanitor.pulls);
- `one by one`: the same namespaces, each in its own repository, so every pull request
  costs its own `GET /repos/{repo}/pulls/{n}` (what every lookup cost before the list);
each on loopback (no latency: what the janitor itself costs) and with every GitHub answer
20 ms late (a round trip to api.github.com from a lab is 20 ms at the very best).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from labjanitor import labels as L  # noqa: N812
from labjanitor.core.decide import Policy
from labjanitor.core.model import PrState, format_time
from labjanitor.github import GitHubClient
from labjanitor.kube import Kube, api_client
from labjanitor.run import Metrics, RunReport, run_once
from labjanitor.testing.fake_github import TOKEN, FakeGitHubServer, pull
from labjanitor.testing.fake_kube import FakeKubeServer

NOW = datetime(2026, 3, 1, tzinfo=UTC)
COUNT = 500


def one_run(one_repository: bool, latency: float) -> tuple[float, RunReport]:
    kube_server, gh_server = FakeKubeServer().start(), FakeGitHubServer().start()
    gh_server.state.latency = latency
    try:
        for n in range(1, COUNT + 1):
            repository = "example-lab/lab" if one_repository else f"example-lab/app-{n}"
            state = ("open", "closed", "merged")[n % 3]
            gh_server.state.add_pull(
                repository, pull(n, "closed" if state != "open" else "open", state == "merged")
            )
            kube_server.state.add_namespace(
                f"lab-pr-{n}",
                {
                    L.LABEL_TYPE: L.TYPE_EPHEMERAL,
                    L.LABEL_MANAGED_BY: L.MANAGED_BY,
                    L.LABEL_PR: str(n),
                },
                {
                    L.ANNOTATION_REPOSITORY: repository,
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
        return time.perf_counter() - started, report
    finally:
        kube_server.stop()
        gh_server.stop()


def main() -> None:
    for latency in (0.0, 0.020):
        results = {"listed": one_run(True, latency), "one by one": one_run(False, latency)}
        for name, (elapsed, report) in results.items():
            asked = sum(d.pr_state is not PrState.NOT_ASKED for d in report.decisions)
            print(
                f"janitor ({name}, GitHub latency {latency * 1000:.0f} ms): "
                f"{len(report.decisions)} namespaces decided in {elapsed:.3f} s "
                f"(target < 1 s); {report.github_calls} GitHub requests for {asked} pull "
                "requests asked about (target <= 1 per PR)"
            )
        listed, one_by_one = results["listed"][0], results["one by one"][0]
        print(
            f"janitor (GitHub latency {latency * 1000:.0f} ms): "
            f"listed / one by one = {listed / one_by_one:.2f}"
        )


if __name__ == "__main__":
    main()
