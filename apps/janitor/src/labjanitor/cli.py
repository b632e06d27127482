"""`lab-janitor`: one run over the preview namespaces (the platform runs it as a CronJob).

Settings come from the environment (`JANITOR_*`, see `JanitorSettings`); the GitHub token
from `JANITOR_GITHUB_TOKEN` (a Secret in the cluster). Exit status: 0 when every decision
was carried out; 1 when listing failed, an action failed or GitHub answered with an error
(auth, 5xx: it must be looked at; a rate limit alone is not an error); 2 for bad settings.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from prometheus_client import push_to_gateway
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from labjanitor.core.decide import Policy
from labjanitor.github import API_URL, GitHubClient
from labjanitor.kube import Kube, KubeError, api_client
from labjanitor.run import Metrics, run_once
from labkit.logs import configure_logging, get_logger
from labkit.settings import EXIT_CONFIG, ConfigError, ServiceSettings, load_settings

log = get_logger("labjanitor")


class JanitorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="JANITOR_")

    github_token: SecretStr
    """Read-only access to the repositories' pull requests (no default: a secret)."""
    github_api_url: str = API_URL
    dry_run: bool = False
    """Decide and log, change nothing."""
    max_preserved: int = Field(default=3, ge=0)
    github_reserve: int = Field(default=100, ge=0)
    """Stop asking GitHub when this few requests are left in the hour (leave some for CI)."""
    cache_namespace: str = ""
    """Where the ETag cache ConfigMap lives (the janitor's namespace); empty: no cache."""
    cache_configmap: str = "preview-janitor-etags"
    pushgateway: str = ""
    """host:port of a Prometheus Pushgateway to push the run's metrics to; empty: none."""
    kubernetes_host: str = ""
    """Talk to this API URL instead of the in-cluster or kubeconfig one (tests)."""
    log_level: str = "INFO"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-janitor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="decide and log only")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(JanitorSettings)
    except ConfigError as exc:
        print(f"lab-janitor: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level)
    dry_run = settings.dry_run or args.dry_run
    kube = Kube(api_client(settings.kubernetes_host or None))
    cache = {}
    if settings.cache_namespace:
        try:
            cache = kube.read_cache(settings.cache_namespace, settings.cache_configmap)
        except KubeError as exc:
            log.warning("cannot read the ETag cache; asking without it", error=str(exc))
    metrics = Metrics()
    github = GitHubClient(
        settings.github_token.get_secret_value(),
        base_url=settings.github_api_url,
        reserve=settings.github_reserve,
        cache=cache,
        user_agent="lab-preview-janitor",
    )
    with github:
        report = run_once(
            kube,
            github,
            now=datetime.now(UTC),
            policy=Policy(max_preserved=settings.max_preserved),
            dry_run=dry_run,
            metrics=metrics,
        )
    if settings.cache_namespace and not dry_run:
        try:
            kube.write_cache(
                settings.cache_namespace, settings.cache_configmap, github.kept_cache()
            )
        except KubeError as exc:
            log.warning("cannot write the ETag cache", error=str(exc))
    if settings.pushgateway:
        try:
            push_to_gateway(settings.pushgateway, job="preview-janitor", registry=metrics.registry)
        except OSError as exc:
            log.warning("cannot push metrics", error=str(exc))
    for error in report.errors:
        log.error("run error", error=error)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
