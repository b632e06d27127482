"""The janitor's image: the name the platform's CronJob runs is the one deploy-main builds
and pushes, and a pushed tag is never overwritten with other sources.

(tests/images builds the image with podman and runs it as the CronJob does.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from labinfra.previews import PreviewSettings
from labpreview.janitor_image import (
    JanitorImageError,
    committed_blobs,
    image,
    repository_source,
    should_push,
    source_digest,
)

REPO = Path(__file__).resolve().parents[3]
DEPLOY_MAIN = REPO / ".github/workflows/deploy-main.yml"
SOURCE = "ab" * 32


def test_the_cronjob_runs_the_image_deploy_main_names() -> None:
    name = image(REPO)
    assert name.startswith("registry.lab.internal/lab/janitor:")
    assert PreviewSettings().janitor_image == name
    platform = yaml.safe_load((REPO / "infra/projects/platform/Pulumi.lab.yaml").read_text())
    assert platform["config"]["lab-platform:previews"]["janitorImage"] == name


def test_the_source_digest_counts_what_the_image_holds() -> None:
    blobs = {"apps/janitor/src/labjanitor/cli.py": "1", "libs/labkit/src/labkit/x.py": "2"}
    base = source_digest(blobs, "httpx==0.28.1\n")
    assert base == source_digest(dict(reversed(blobs.items())), "httpx==0.28.1\n")
    # Tests, READMEs and the Dockerfile are not installed.
    assert base == source_digest({**blobs, "apps/janitor/README.md": "3"}, "httpx==0.28.1\n")
    assert base == source_digest({**blobs, "apps/janitor/Dockerfile": "3"}, "httpx==0.28.1\n")
    assert base == source_digest(
        {**blobs, "apps/janitor/tests/test_run.py": "3"}, "httpx==0.28.1\n"
    )
    assert base == source_digest(
        {**blobs, "apps/janitor/Dockerfile.dockerignore": "4"}, "httpx==0.28.1\n"
    )
    # Code and locked dependencies are.
    assert base != source_digest(
        {**blobs, "apps/janitor/src/labjanitor/cli.py": "9"}, "httpx==0.28.1\n"
    )
    assert base != source_digest({**blobs, "libs/labkit/pyproject.toml": "8"}, "httpx==0.28.1\n")
    assert base != source_digest(blobs, "httpx==0.28.2\n")


def test_committed_blobs_are_read_from_git(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "apps/janitor/src").mkdir(parents=True)
    (tmp_path / "apps/janitor/src/a.py").write_text("x = 1\n")
    (tmp_path / "other.py").write_text("")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    first = committed_blobs(tmp_path)
    assert list(first) == ["apps/janitor/src/a.py"]
    (tmp_path / "apps/janitor/src/a.py").write_text("x = 2\n")
    assert committed_blobs(tmp_path) == first  # what is committed, not the work tree
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "two")
    assert committed_blobs(tmp_path) != first


def test_this_repositorys_source_is_stable() -> None:
    first = repository_source(REPO)
    assert len(first) == 64
    assert repository_source(REPO) == first


def test_a_tag_is_pushed_once_and_never_overwritten() -> None:
    tag = "registry.lab.internal/lab/janitor:0.1.0"
    assert should_push(tag, SOURCE, None) is True
    assert should_push(tag, SOURCE, {"Labels": {"lab.source": SOURCE}}) is False
    with pytest.raises(JanitorImageError, match="bump the version"):
        should_push(tag, SOURCE, {"Labels": {"lab.source": "cd" * 32}})
    with pytest.raises(JanitorImageError, match="missing"):
        should_push(tag, SOURCE, {"Labels": None})


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labpreview.cli", "janitor-image", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def test_cli(tmp_path: Path) -> None:
    described = _cli()
    assert described.returncode == 0, described.stderr
    lines = dict(line.split("=", 1) for line in described.stdout.splitlines())
    assert lines == {"image": image(REPO), "source": repository_source(REPO)}
    assert _cli("--source", SOURCE, "--absent").stdout == "push=true\n"
    pushed = tmp_path / "pushed.json"
    pushed.write_text(json.dumps({"Labels": {"lab.source": SOURCE}}))
    assert _cli("--source", SOURCE, "--pushed", str(pushed)).stdout == "push=false\n"
    conflict = _cli("--source", "cd" * 32, "--pushed", str(pushed))
    assert conflict.returncode == 1
    assert "bump the version in apps/janitor/pyproject.toml" in conflict.stderr
    assert conflict.stdout == ""


# --- deploy-main ---------------------------------------------------------------------


def _jobs() -> dict[str, Any]:
    data = yaml.safe_load(DEPLOY_MAIN.read_text(encoding="utf-8"))
    assert data["permissions"] == {}
    jobs: dict[str, Any] = data["jobs"]
    return jobs


def _script(job: dict[str, Any]) -> str:
    return "\n".join(s["run"].replace("\\\n", " ") for s in job["steps"] if "run" in s)


def test_deploy_main_builds_the_janitor_image_without_secrets() -> None:
    job = _jobs()["janitor-image"]
    assert job["runs-on"] == "ubuntu-24.04"  # GitHub's runner, not the lab's
    assert job["permissions"] == {"contents": "read"}
    assert "secrets." not in yaml.safe_dump(job)
    script = _script(job)
    assert 'uv run --frozen lab-preview janitor-image >> "$GITHUB_OUTPUT"' in script
    assert "podman build -f apps/janitor/Dockerfile" in script
    assert "--ignorefile apps/janitor/Dockerfile.dockerignore" in script
    assert '--label "lab.source=$SOURCE"' in script
    assert '-t "$IMAGE"' in script
    build = next(s for s in job["steps"] if "podman build" in s.get("run", ""))
    assert build["env"]["IMAGE"] == "${{ steps.describe.outputs.image }}"
    assert job["outputs"]["image"] == "${{ steps.describe.outputs.image }}"


def test_deploy_main_pushes_it_after_the_platform() -> None:
    jobs = _jobs()
    job = jobs["janitor-push"]
    assert set(job["needs"]) == {"janitor-image", "platform"}  # the registry is the platform's
    assert job["permissions"] == {"contents": "read"}
    assert job["env"]["IMAGE"] == "${{ needs.janitor-image.outputs.image }}"
    assert job["env"]["SOURCE"] == "${{ needs.janitor-image.outputs.source }}"
    script = _script(job)
    assert '"oci-archive:$RUNNER_TEMP/janitor-image/janitor.tar" "docker://$IMAGE"' in script
    assert "--pushed" in script
    assert "--absent" in script
    assert '[ "$decision" = "push=true" ]' in script
    # The apps do not wait for the janitor.
    assert jobs["apps"]["needs"] == "platform"
