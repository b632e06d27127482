"""The app images deploy-main builds and pushes to the lab registry (`lab-preview app-image`).

Each is `registry.lab.internal/lab/<name>:<version>`, the version being the one in its
app's pyproject.toml, built from one stage of `apps/<app>/Dockerfile`:

- `janitor`: the platform's CronJob runs it (labinfra.previews.PreviewSettings.janitor_image;
  `previews.janitorImage` in infra/projects/platform/Pulumi.lab.yaml);
- `picotemp-exporter`: the apps stack's Pico W exporters run it (`image` of each
  `lab-apps:picotempExporters` entry in infra/projects/apps/Pulumi.lab.yaml).

Both are pulled `IfNotPresent`: a node that has pulled a tag never pulls it again, so a
tag must never change content. Each image carries a `lab.source` label: a digest of what it
is built from (its app's and labkit's packaged files, and the app's locked dependencies as
`uv export` lists them, so a lock change elsewhere does not count).

deploy-main pushes a tag when the registry does not have it, does nothing when the
registry's copy has the same source, and fails when it has another: the code changed and
the version did not (bump it, and the stack config that names the image with it).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGISTRY = "registry.lab.internal"
SOURCE_LABEL = "lab.source"
REVISION_LABEL = "org.opencontainers.image.revision"


@dataclass(frozen=True)
class AppImage:
    name: str
    """The image's name under <registry>/lab/."""
    app: str
    """Its app's directory under apps/ (the Dockerfile and the pyproject with the version)."""
    package: str
    """The workspace package its Dockerfile installs (`uv sync --package`)."""
    target: str | None
    """The Dockerfile stage to build (None: the last one)."""
    named_in: str
    """Where the stack config names the tag (to bump with the version)."""
    members: tuple[str, ...] = ()
    """Workspace members the image installs besides the app (its Dockerfile copies them)."""

    @property
    def sources(self) -> tuple[str, ...]:
        return (f"apps/{self.app}", *self.members)

    @property
    def dockerfile(self) -> str:
        return f"apps/{self.app}/Dockerfile"

    @property
    def ignorefile(self) -> str:
        return f"apps/{self.app}/Dockerfile.dockerignore"

    @property
    def archive(self) -> str:
        """The file name of its OCI archive, as the build job uploads it."""
        return f"{self.name}.tar"

    def version(self, repo: Path) -> str:
        pyproject = repo / "apps" / self.app / "pyproject.toml"
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        return str(project["project"]["version"])

    def image(self, repo: Path, registry: str = REGISTRY) -> str:
        return f"{registry}/lab/{self.name}:{self.version(repo)}"

    def build_argv(
        self,
        repo: Path,
        tag: str,
        labels: Mapping[str, str],
        options: Sequence[str] = (),
    ) -> list[str]:
        """`podman build` of this image's stage from `repo` as `tag`; `options` go before
        the rest (tests/images adds its isolation and base-image build arguments)."""
        argv = ["podman", "build", *options, "-f", str(repo / self.dockerfile)]
        argv += ["--ignorefile", str(repo / self.ignorefile)]
        if self.target:
            argv += ["--target", self.target]
        for key, value in labels.items():
            argv += ["--label", f"{key}={value}"]
        return [*argv, "-t", tag, str(repo)]


IMAGES = {
    image.name: image
    for image in (
        AppImage(
            "janitor",
            "janitor",
            "labjanitor",
            None,
            "previews.janitorImage in infra/projects/platform/Pulumi.lab.yaml",
            ("libs/labkit",),
        ),
        AppImage(
            "picotemp-exporter",
            "picotemp",
            "picotemp",
            "exporter",
            "lab-apps:picotempExporters[].image in infra/projects/apps/Pulumi.lab.yaml",
            ("libs/labkit",),
        ),
    )
}


class AppImageError(RuntimeError):
    """The registry holds this tag built from other sources."""


def source_digest(blobs: Mapping[str, str], requirements: str) -> str:
    """sha256 over (path, git blob id) of what the image installs from each member (its
    `src/` and `pyproject.toml`: what goes into its wheel; not its tests, README or
    Dockerfile), and the app's exported requirements."""
    digest = hashlib.sha256()
    for path in sorted(blobs):
        if "/src/" not in path and not path.endswith("/pyproject.toml"):
            continue
        digest.update(f"{path}\0{blobs[path]}\n".encode())
    digest.update(requirements.encode())
    return digest.hexdigest()


def committed_blobs(repo: Path, sources: Sequence[str]) -> dict[str, str]:
    """Path -> git blob id of the files under `sources` at HEAD (what CI checked out)."""
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "HEAD", "--", *sources],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    blobs = {}
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        blobs[path] = meta.split()[2]
    return blobs


def repository_source(repo: Path, image: AppImage) -> str:
    """`source_digest` of `image` at HEAD of `repo`, with its app's dependencies from
    uv.lock (the work tree's: on CI's fresh checkout the two are the same commit)."""
    requirements = subprocess.run(
        [
            *("uv", "export", "--frozen", "--no-dev", "--package", image.package),
            *("--no-emit-workspace", "--no-header"),
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return source_digest(committed_blobs(repo, image.sources), requirements)


def should_push(image: AppImage, tag: str, source: str, pushed: Mapping[str, Any] | None) -> bool:
    """Push `tag` built from `source`, given what the registry has under it (`skopeo
    inspect` of the tag, None when the registry has no such tag)."""
    if pushed is None:
        return True
    theirs = (pushed.get("Labels") or {}).get(SOURCE_LABEL, "")
    if theirs == source:
        return False
    raise AppImageError(
        f"{tag} is in the registry already, built from other sources "
        f"({SOURCE_LABEL} {theirs[:12] or 'missing'}, this commit {source[:12]}): tags are "
        f"never overwritten (nodes pull IfNotPresent); bump the version in "
        f"apps/{image.app}/pyproject.toml and {image.named_in}"
    )


def build(
    image: AppImage,
    repo: Path,
    tag: str,
    source: str,
    revision: str,
    out: Path,
    options: Sequence[str] = (),
) -> Path:
    """Build `image` as `tag` with its source and revision labels, and save it as an OCI
    archive in `out` (what deploy-main's push job copies to the registry)."""
    labels = {SOURCE_LABEL: source, REVISION_LABEL: revision}
    subprocess.run(image.build_argv(repo, tag, labels, options), check=True)
    out.mkdir(parents=True, exist_ok=True)
    archive = out / image.archive
    subprocess.run(
        ["podman", "save", "--format", "oci-archive", "-o", str(archive), tag], check=True
    )
    return archive


def command(args: Any) -> int:
    """`lab-preview app-image NAME`: print image= and source= (after building it, with
    --build DIR); with --pushed/--absent print push=true|false (exit 1 when the registry's
    tag holds other sources)."""
    repo = Path(args.repo)
    image = IMAGES[args.name]
    tag = image.image(repo, args.registry)
    source = args.source or repository_source(repo, image)
    if args.pushed is None and not args.absent:
        if args.build:
            build(image, repo, tag, source, args.revision, Path(args.build))
        print(f"image={tag}")
        print(f"source={source}")
        return 0
    pushed = None if args.absent else json.loads(Path(args.pushed).read_text(encoding="utf-8"))
    try:
        push = should_push(image, tag, source, pushed)
    except AppImageError as exc:
        print(f"app-image: {exc}", file=sys.stderr)
        return 1
    print(f"push={'true' if push else 'false'}")
    return 0


def add_command(commands: Any) -> None:
    parser = commands.add_parser(
        "app-image", help="an app image's name and source; build it; whether to push it"
    )
    parser.add_argument("name", choices=sorted(IMAGES), help="the image")
    parser.add_argument("--repo", default=".", help="the repository's root")
    parser.add_argument("--registry", default=REGISTRY)
    parser.add_argument("--source", default="", help="the built image's source label")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--build", metavar="DIR", help="build it; save its OCI archive in DIR")
    which.add_argument("--pushed", help="skopeo inspect JSON of the registry's tag")
    which.add_argument("--absent", action="store_true", help="the registry has no such tag")
    parser.add_argument("--revision", default="", help="the commit it is built from (--build)")
    parser.set_defaults(run=command)
