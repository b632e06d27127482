"""The preview project under Pulumi's mocks, through the same harness as `make render`.

`run_preview` runs `infra/projects/preview/__main__.py` for one pull request with the
offline harness (`labinfra.offline.harness`); the platform's and cluster's outputs it
references are given as the engine would give them (secret ones secret). Nothing here
replaces `pulumi preview` against the cluster: see infra/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from labinfra.offline.harness import RunOptions, StackOutputs, StackRun, run_project
from labinfra.offline.lab import PROJECTS_DIR
from labinfra.offline.render import REDACTED, render_run

PROJECT_DIR = PROJECTS_DIR / "preview"
BASE_STACK = "lab"
FAKE_PEM = "-----BEGIN {0}-----\nbW9jaw==\n-----END {0}-----\n"


def fake_references(base_stack: str = BASE_STACK) -> dict[str, StackOutputs]:
    """The cluster's and platform's outputs this project reads, shaped as they export them."""
    return {
        f"organization/lab-cluster/{base_stack}": StackOutputs(
            {"kubeconfig": "apiVersion: v1\nkind: Config\n"}, frozenset({"kubeconfig"})
        ),
        f"organization/lab-platform/{base_stack}": StackOutputs(
            {
                "registryDockerConfig": '{"auths": {"registry.lab.internal": {}}}',
                "previewTlsCertPem": FAKE_PEM.format("CERTIFICATE"),
                "previewTlsKeyPem": FAKE_PEM.format("PRIVATE KEY"),
                "grafanaUrl": "https://grafana.lab.internal",
                "labCaCertPem": FAKE_PEM.format("CERTIFICATE"),
            },
            frozenset({"registryDockerConfig", "previewTlsKeyPem"}),
        ),
    }


@dataclass(frozen=True)
class PullRequest:
    number: int
    branch: str
    commit: str
    created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    deployed_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)


def stack_overrides(
    k8s_ee: str, pr: PullRequest, config_file: str = "k8s-ee.yaml"
) -> dict[str, str | int]:
    """The PR's keys the deploy workflow adds to the shared stack file."""
    return {
        "previewConfig": k8s_ee,
        "configFile": config_file,
        "prNumber": pr.number,
        "branch": pr.branch,
        "commitSha": pr.commit,
        "createdAt": pr.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "deployedAt": pr.deployed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def run_preview(
    k8s_ee: str,
    pr: PullRequest,
    *,
    config_file: str = "k8s-ee.yaml",
    references: dict[str, StackOutputs] | None = None,
    project_dir: Path = PROJECT_DIR,
) -> StackRun:
    run = run_project(
        project_dir,
        BASE_STACK,
        RunOptions(
            overrides=dict(stack_overrides(k8s_ee, pr, config_file)),
            stack_references=references if references is not None else fake_references(),
        ),
    )
    run.stack = f"pr-{pr.number}"
    return run


def render_preview(run: StackRun, out: Path) -> list[Path]:
    """One YAML file per object under out/lab-preview/pr-<n>/, secrets redacted (keys kept).

    `render_run` redacts a secret input whole; a Secret's `stringData` is secret as a whole
    (its values are secret Outputs), so its keys are written back with redacted values: a
    reviewer sees which variables a Secret holds, never their values.
    """
    files = render_run(run, out)
    folder = out / run.project / run.stack
    for resource in run.kubernetes_objects():
        data = resource.inputs.get("stringData")
        if resource.inputs.get("kind") != "Secret" or not isinstance(data, dict):
            continue
        path = folder / f"{resource.order:03d}-{resource.name}.yaml"
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        document["stringData"] = dict.fromkeys(data, REDACTED)
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return files
