"""The janitor's image as deploy-main builds and pushes it (`lab-preview janitor-image`).

The platform's CronJob runs `registry.lab.internal/lab/janitor:<version>`
(labinfra.previews.PreviewSettings.janitor_image; the lab stack sets `previews.janitorImage`
in infra/projects/platform/Pulumi.lab.yaml), pulled `IfNotPresent`: a node that has pulled
a tag never pulls it again, so a tag must never change content. The tag is the version in
apps/janitor/pyproject.toml, and the image carries a `lab.source` label: a digest of what
it is built from (the janitor's and labkit's packaged files, and the janitor's locked
dependencies as `uv export` lists them, so a lock change elsewhere does not count).

deploy-main pushes the tag when the registry does not have it, does nothing when the
registry's copy has the same source, and fails when it has another: the code changed and
the version did not (bump it, and `previews.janitorImage` with it).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPOSITORY = "lab/janitor"
SOURCE_LABEL = "lab.source"
SOURCES = ("apps/janitor", "libs/labkit")
"""Workspace members the image installs (apps/janitor/Dockerfile copies these two)."""


UV_EXPORT = ("uv", "export", "--frozen", "--no-dev", "--package", "labjanitor")


class JanitorImageError(RuntimeError):
    """The registry holds this tag built from other sources."""


def version(repo: Path) -> str:
    project = tomllib.loads((repo / "apps/janitor/pyproject.toml").read_text(encoding="utf-8"))
    return str(project["project"]["version"])


def image(repo: Path, registry: str = "registry.lab.internal") -> str:
    return f"{registry}/{REPOSITORY}:{version(repo)}"


def source_digest(blobs: Mapping[str, str], requirements: str) -> str:
    """sha256 over (path, git blob id) of what the image installs from each member (its
    `src/` and `pyproject.toml`: what goes into its wheel; not its tests, README or
    Dockerfile), and the janitor's exported requirements."""
    digest = hashlib.sha256()
    for path in sorted(blobs):
        if "/src/" not in path and not path.endswith("/pyproject.toml"):
            continue
        digest.update(f"{path}\0{blobs[path]}\n".encode())
    digest.update(requirements.encode())
    return digest.hexdigest()


def committed_blobs(repo: Path) -> dict[str, str]:
    """Path -> git blob id of the files under SOURCES at HEAD (what CI checked out)."""
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "HEAD", "--", *SOURCES],
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


def repository_source(repo: Path) -> str:
    """`source_digest` of HEAD of `repo`, with the janitor's dependencies from uv.lock
    (the work tree's: on CI's fresh checkout the two are the same commit)."""
    requirements = subprocess.run(
        [*UV_EXPORT, "--no-emit-workspace", "--no-header"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return source_digest(committed_blobs(repo), requirements)


def should_push(tag: str, source: str, pushed: Mapping[str, Any] | None) -> bool:
    """Push `tag` built from `source`, given what the registry has under it (`skopeo
    inspect` of the tag, None when the registry has no such tag)."""
    if pushed is None:
        return True
    theirs = (pushed.get("Labels") or {}).get(SOURCE_LABEL, "")
    if theirs == source:
        return False
    raise JanitorImageError(
        f"{tag} is in the registry already, built from other sources "
        f"({SOURCE_LABEL} {theirs[:12] or 'missing'}, this commit {source[:12]}): tags are "
        "never overwritten (nodes pull IfNotPresent); bump the version in "
        "apps/janitor/pyproject.toml and previews.janitorImage in "
        "infra/projects/platform/Pulumi.lab.yaml"
    )


def command(args: Any) -> int:
    """`lab-preview janitor-image`: print image= and source=, or with --pushed/--absent
    print push=true|false (exit 1 when the registry's tag holds other sources)."""
    repo = Path(args.repo)
    tag = image(repo, args.registry)
    source = args.source or repository_source(repo)
    if args.pushed is None and not args.absent:
        print(f"image={tag}")
        print(f"source={source}")
        return 0
    pushed = None if args.absent else json.loads(Path(args.pushed).read_text(encoding="utf-8"))
    try:
        push = should_push(tag, source, pushed)
    except JanitorImageError as exc:
        print(f"janitor-image: {exc}", file=sys.stderr)
        return 1
    print(f"push={'true' if push else 'false'}")
    return 0


def add_command(commands: Any) -> None:
    parser = commands.add_parser(
        "janitor-image", help="the janitor image's name and source; whether to push it"
    )
    parser.add_argument("--repo", default=".", help="the repository's root")
    parser.add_argument("--registry", default="registry.lab.internal")
    parser.add_argument("--source", default="", help="the built image's source label")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--pushed", help="skopeo inspect JSON of the registry's tag")
    which.add_argument("--absent", action="store_true", help="the registry has no such tag")
    parser.set_defaults(run=command)
