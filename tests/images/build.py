"""Build the apps' container images here, without a Docker engine (`make images`).

podman/buildah from Debian build each `apps/<app>/Dockerfile` with two build arguments
that replace its public bases, since no container registry is reachable here:

- BASE: an image imported from the Debian bookworm tree that libs/labhosts caches for the
  virtual hosts (built with debootstrap first when the cache is empty), tagged
  `localhost/lab-base:bookworm-<tree key>`; the key changes with the tree's recipe.
- UV_IMAGE: `localhost/lab-uv:<version>`, holding the host's pinned uv binary (the same
  uv scripts/bootstrap installs) as `/uv`, as the public ghcr.io/astral-sh/uv image does.

Both are caches keyed by their content and kept between runs, like podman's layer cache.
Flags that podman needs on machines with hybrid cgroups and low hard limits, such as CI
containers: `--isolation=chroot` for builds (crun refuses hybrid cgroups for RUN steps),
and at run time runc with cgroupfs (crun fails there too) and explicit ulimits (podman's
defaults exceed such machines' hard limits, and setrlimit fails). Package downloads go to
PyPI; the host's CA bundle is passed as the optional build secret `ca` for hosts behind a
TLS-inspecting proxy.
"""

from __future__ import annotations

import argparse
import fcntl
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from labpreview import app_image

REPO = Path(__file__).resolve().parents[2]
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
RUN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


@dataclass(frozen=True)
class Image:
    app: str
    target: str | None
    """The Dockerfile stage to build (None: the last one)."""
    name: str
    """Repository name under localhost/ for `make images`."""
    port: int
    """The port it serves on (0: none, a job that runs to completion)."""
    uid: int
    """The non-root user the Dockerfile declares (USER)."""

    @property
    def dockerfile(self) -> Path:
        return REPO / "apps" / self.app / "Dockerfile"


IMAGES = (
    Image("picotemp", "exporter", "picotemp-exporter", 3030, 10001),
    Image("picotemp", "sim", "picotemp-sim", 8080, 10001),
    Image("dome", None, "dome", 8470, 10002),
    Image("daq", None, "daq", 8470, 10003),
    # A run-to-completion CronJob (labinfra.previews): no port; run by tests/images itself.
    Image("janitor", None, "janitor", 0, 10002),
)


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=True, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def image_exists(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], check=False).returncode == 0


def base_image() -> str:
    """The Debian tree libs/labhosts caches, imported as an image (built first if absent)."""
    from labhosts.image import ensure_image, image_key
    from labhosts.layout import Layout

    name = f"localhost/lab-base:bookworm-{image_key()}"
    if image_exists(name):
        return name
    layout = Layout()
    tree = layout.images / image_key()
    if not tree.is_dir():
        # Building the tree writes the cache the virtual hosts share: under their lock.
        layout.cache.mkdir(parents=True, exist_ok=True)
        Path("/run/lock").mkdir(parents=True, exist_ok=True)
        with open("/run/lock/labhosts.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            tree = ensure_image(layout, layout.cache / "images-build.log")
    tar = subprocess.Popen(["tar", "-C", str(tree), "-c", "."], stdout=subprocess.PIPE)
    try:
        subprocess.run(["podman", "import", "-q", "-", name], stdin=tar.stdout, check=True)
    finally:
        if tar.stdout:
            tar.stdout.close()
        tar.wait()
    return name


def uv_binary() -> Path:
    """The uv executable scripts/bootstrap installed (with pip, into the system python3)."""
    found = shutil.which("uv")
    if found and Path(found).read_bytes()[:4] == b"\x7fELF":
        return Path(found)
    # A shim (pyenv) in front of it: ask the python3 that pip installed it into.
    where = _run(["python3", "-c", "import uv; print(uv.find_uv_bin())"]).stdout.strip()
    return Path(where)


def uv_image() -> str:
    """The host's pinned uv as /uv in an otherwise empty image."""
    binary = uv_binary()
    version = _run([str(binary), "--version"]).stdout.split()[1]
    name = f"localhost/lab-uv:{version}"
    if image_exists(name):
        return name
    with tempfile.TemporaryDirectory(prefix="lab-uv-") as context:
        shutil.copy(binary, Path(context) / "uv")
        (Path(context) / "Containerfile").write_text("FROM scratch\nCOPY uv /uv\n")
        _run(["podman", "build", "--isolation=chroot", "-q", "-t", name, context])
    return name


def build_options(*, no_cache: bool = False) -> list[str]:
    """`podman build` options for building here: chroot isolation, the local base and uv
    images, and the host's CA bundle as the `ca` secret."""
    options = [
        "--isolation=chroot",
        "--format",
        "docker",  # keeps HEALTHCHECK, which the OCI format drops
        "--build-arg",
        f"BASE={base_image()}",
        "--build-arg",
        f"UV_IMAGE={uv_image()}",
    ]
    if no_cache:
        options.append("--no-cache")
    if CA_BUNDLE.is_file():
        options += ["--secret", f"id=ca,src={CA_BUNDLE}"]
    return options


def build(image: Image, tag: str, *, no_cache: bool = False) -> float:
    """Build `image` as `tag`; returns the seconds it took. The images deploy-main pushes
    (labpreview.app_image) are built with its own `podman build` command line, labels
    included, so what runs here is what the workflow builds."""
    options = build_options(no_cache=no_cache)
    pushed = app_image.IMAGES.get(image.name)
    if pushed:
        labels = {app_image.SOURCE_LABEL: app_image.repository_source(REPO, pushed)}
        argv = pushed.build_argv(REPO, tag, labels, options)
    else:
        argv = ["podman", "build", *options, "-f", str(image.dockerfile)]
        argv += ["--ignorefile", str(image.dockerfile.with_name("Dockerfile.dockerignore"))]
        if image.target:
            argv += ["--target", image.target]
        argv += ["-t", tag, str(REPO)]
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"building {tag} failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
        )
    return time.monotonic() - started


def image_size(tag: str) -> int:
    return int(_run(["podman", "image", "inspect", "--format", "{{.Size}}", tag]).stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default="0.1.0", help="tag of the images")
    parser.add_argument("--no-cache", action="store_true", help="rebuild every layer")
    args = parser.parse_args(argv)
    for image in IMAGES:
        tag = f"localhost/{image.name}:{args.version}"
        seconds = build(image, tag, no_cache=args.no_cache)
        print(f"{tag}: {image_size(tag) / 1e6:.0f} MB, built in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
