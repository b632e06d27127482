"""The app images: the names the stacks run are the ones deploy-main builds and pushes, each
from the right Dockerfile stage, and a pushed tag is never overwritten with other sources.

(tests/images builds the images with podman through AppImage.build_argv and runs them.)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from labinfra.offline.lab import run_lab
from labinfra.previews import PreviewSettings
from labpreview.app_image import (
    IMAGES,
    AppImage,
    AppImageError,
    committed_blobs,
    repository_source,
    should_push,
    source_digest,
)

REPO = Path(__file__).resolve().parents[3]
DEPLOY_MAIN = REPO / ".github/workflows/deploy-main.yml"
SOURCE = "ab" * 32
JANITOR = IMAGES["janitor"]
EXPORTER = IMAGES["picotemp-exporter"]


def _version(app: str) -> str:
    text = (REPO / "apps" / app / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version = "([^"]+)"$', text, re.MULTILINE)
    assert match
    return match[1]


def test_the_cronjob_runs_the_image_deploy_main_names() -> None:
    name = JANITOR.image(REPO)
    assert name == f"registry.lab.internal/lab/janitor:{_version('janitor')}"
    assert PreviewSettings().janitor_image == name
    platform = yaml.safe_load((REPO / "infra/projects/platform/Pulumi.lab.yaml").read_text())
    assert platform["config"]["lab-platform:previews"]["janitorImage"] == name


def test_the_apps_stack_runs_the_exporter_image_deploy_main_names() -> None:
    """The example apps stack's exporters, as its config says and as its program deploys
    them (run under Pulumi's mocks), run exactly the exporter image deploy-main pushes."""
    name = EXPORTER.image(REPO)
    assert name == f"registry.lab.internal/lab/picotemp-exporter:{_version('picotemp')}"
    apps = yaml.safe_load((REPO / "infra/projects/apps/Pulumi.lab.yaml").read_text())
    exporters = apps["config"]["lab-apps:picotempExporters"]
    assert exporters
    assert {e["image"] for e in exporters} == {name}
    run = run_lab()["apps"]
    deployed = {
        c["image"]
        for d in run.of_type("kubernetes:apps/v1:Deployment")
        for c in d.inputs["spec"]["template"]["spec"]["containers"]
    }
    assert deployed == {name}
    assert "picotemp-exporter" in _matrix("images")


def test_each_image_builds_its_apps_stage() -> None:
    """The stage exists in the Dockerfile, and the Dockerfile installs the image's package
    and copies exactly the workspace members the source digest counts."""
    for image in IMAGES.values():
        dockerfile = (REPO / image.dockerfile).read_text(encoding="utf-8")
        stages = re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.MULTILINE)
        if image.target:
            assert image.target in stages, image
        assert f"--package {image.package} " in dockerfile, image
        copied = set(re.findall(r"^COPY (apps/\S+|libs/\S+) \1$", dockerfile, re.MULTILINE))
        assert copied == set(image.sources), image
        assert (REPO / image.ignorefile).is_file()


def test_build_argv() -> None:
    labels = {"lab.source": SOURCE, "org.opencontainers.image.revision": "c0ffee"}
    argv = EXPORTER.build_argv(REPO, "t:1", labels, ["--isolation=chroot"])
    assert argv == [
        *("podman", "build", "--isolation=chroot", "-f", str(REPO / "apps/picotemp/Dockerfile")),
        *("--ignorefile", str(REPO / "apps/picotemp/Dockerfile.dockerignore")),
        *("--target", "exporter"),
        *("--label", f"lab.source={SOURCE}"),
        *("--label", "org.opencontainers.image.revision=c0ffee"),
        *("-t", "t:1", str(REPO)),
    ]
    # The janitor's Dockerfile has one image: its last stage, no --target.
    assert "--target" not in JANITOR.build_argv(REPO, "t:1", labels)


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
    (tmp_path / "apps/picotemp/src").mkdir(parents=True)
    (tmp_path / "apps/picotemp/src/b.py").write_text("")
    (tmp_path / "other.py").write_text("")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    first = committed_blobs(tmp_path, JANITOR.sources)
    assert list(first) == ["apps/janitor/src/a.py"]
    assert list(committed_blobs(tmp_path, EXPORTER.sources)) == ["apps/picotemp/src/b.py"]
    (tmp_path / "apps/janitor/src/a.py").write_text("x = 2\n")
    assert committed_blobs(tmp_path, JANITOR.sources) == first  # committed, not the work tree
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "two")
    assert committed_blobs(tmp_path, JANITOR.sources) != first


def test_this_repositorys_sources_are_stable_and_per_image() -> None:
    janitor = repository_source(REPO, JANITOR)
    assert len(janitor) == 64
    assert repository_source(REPO, JANITOR) == janitor
    assert repository_source(REPO, EXPORTER) != janitor


def test_a_tag_is_pushed_once_and_never_overwritten() -> None:
    tag = "registry.lab.internal/lab/picotemp-exporter:0.1.0"
    assert should_push(EXPORTER, tag, SOURCE, None) is True
    assert should_push(EXPORTER, tag, SOURCE, {"Labels": {"lab.source": SOURCE}}) is False
    with pytest.raises(AppImageError, match=r"bump the version in apps/picotemp/pyproject\.toml"):
        should_push(EXPORTER, tag, SOURCE, {"Labels": {"lab.source": "cd" * 32}})
    with pytest.raises(AppImageError, match="missing"):
        should_push(EXPORTER, tag, SOURCE, {"Labels": None})


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labpreview.cli", "app-image", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


@pytest.mark.parametrize("image", IMAGES.values(), ids=list(IMAGES))
def test_cli(tmp_path: Path, image: AppImage) -> None:
    described = _cli(image.name)
    assert described.returncode == 0, described.stderr
    lines = dict(line.split("=", 1) for line in described.stdout.splitlines())
    assert lines == {"image": image.image(REPO), "source": repository_source(REPO, image)}
    assert _cli(image.name, "--source", SOURCE, "--absent").stdout == "push=true\n"
    pushed = tmp_path / "pushed.json"
    pushed.write_text(json.dumps({"Labels": {"lab.source": SOURCE}}))
    assert _cli(image.name, "--source", SOURCE, "--pushed", str(pushed)).stdout == "push=false\n"
    conflict = _cli(image.name, "--source", "cd" * 32, "--pushed", str(pushed))
    assert conflict.returncode == 1
    assert f"bump the version in apps/{image.app}/pyproject.toml" in conflict.stderr
    assert image.named_in in conflict.stderr
    assert conflict.stdout == ""


def test_cli_refuses_an_unknown_image() -> None:
    unknown = _cli("picotemp")
    assert unknown.returncode == 2
    assert "invalid choice: 'picotemp'" in unknown.stderr


# --- deploy-main ---------------------------------------------------------------------


def _jobs() -> dict[str, Any]:
    data = yaml.safe_load(DEPLOY_MAIN.read_text(encoding="utf-8"))
    assert data["permissions"] == {}
    jobs: dict[str, Any] = data["jobs"]
    return jobs


def _matrix(job: str) -> list[str]:
    images: list[str] = _jobs()[job]["strategy"]["matrix"]["image"]
    return images


def _script(job: dict[str, Any]) -> str:
    return "\n".join(s["run"].replace("\\\n", " ") for s in job["steps"] if "run" in s)


def test_deploy_main_builds_every_app_image_without_secrets() -> None:
    job = _jobs()["images"]
    assert sorted(_matrix("images")) == sorted(IMAGES)
    assert job["runs-on"] == "ubuntu-24.04"  # GitHub's runner, not the lab's
    assert job["permissions"] == {"contents": "read"}
    assert "secrets." not in yaml.safe_dump(job)
    build = next(s for s in job["steps"] if "lab-preview app-image" in s.get("run", ""))
    assert build["env"]["NAME"] == "${{ matrix.image }}"
    assert build["run"] == (
        'uv run --frozen lab-preview app-image "$NAME" --build build/image --revision "$REVISION"'
    )
    upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["with"] == {
        "name": "image-${{ matrix.image }}",
        "path": "build/image/",
        "retention-days": 1,
    }


def test_deploy_main_pushes_them_after_the_platform_and_before_the_apps() -> None:
    jobs = _jobs()
    job = jobs["images-push"]
    assert sorted(_matrix("images-push")) == sorted(IMAGES)
    assert set(job["needs"]) == {"images", "platform"}  # the registry is the platform's
    assert job["permissions"] == {"contents": "read"}
    assert job["env"]["NAME"] == "${{ matrix.image }}"
    download = next(s for s in job["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["name"] == "image-${{ matrix.image }}"
    script = _script(job)
    # The archive the build saved (AppImage.archive), under the download path.
    assert download["with"]["path"] == "${{ runner.temp }}/image"
    assert JANITOR.archive == "janitor.tar"
    assert 'archive="oci-archive:$RUNNER_TEMP/image/$NAME.tar"' in script
    assert """jq -r '.Labels["lab.source"] // empty'""" in script
    assert '--source "$source" --pushed' in script
    assert '--source "$source" --absent' in script
    assert '[ "$decision" = "push=true" ]' in script
    assert '"$archive" "docker://$image"' in script
    # The apps stack names the exporter's tag: it is deployed once every image is pushed.
    assert set(jobs["apps"]["needs"]) == {"platform", "images-push"}
