"""The apps' images, built here with podman from the repository's Dockerfiles and run as
the non-root users they declare: /healthz and /metrics answer (the exporter reads a Pico W
simulator running from its own image, as a preview runs them).

Containers and images a test makes are named with a unique suffix and removed afterwards;
the base image (from the labhosts Debian tree) and the uv image are content-keyed caches
(tests/images/build.py).
"""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

spec = importlib.util.spec_from_file_location("lab_images", Path(__file__).with_name("build.py"))
assert spec
assert spec.loader
images = importlib.util.module_from_spec(spec)
sys.modules["lab_images"] = images  # dataclasses look their module up by name
spec.loader.exec_module(images)

pytestmark = pytest.mark.integration
SUFFIX = uuid.uuid4().hex[:8]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="module")
def built() -> Iterator[dict[str, str]]:
    tags = {}
    try:
        for image in images.IMAGES:
            tag = f"localhost/issue-11-{image.name}:{SUFFIX}"
            images.build(image, tag)
            tags[image.name] = tag
        yield tags
    finally:
        for tag in tags.values():
            subprocess.run(["podman", "rmi", "-f", tag], capture_output=True, check=False)


class Containers:
    def __init__(self) -> None:
        self.names: list[str] = []

    def run(self, image: str, *args: str, name: str) -> str:
        full = f"issue-11-{name}-{SUFFIX}"
        subprocess.run(
            [*images.RUN, "run", "-d", *images.ULIMITS, "--name", full, *args, image],
            check=True,
            capture_output=True,
        )
        self.names.append(full)
        return full

    def logs(self, name: str) -> str:
        result = subprocess.run([*images.RUN, "logs", name], capture_output=True, text=True)
        return result.stdout + result.stderr

    def user(self, name: str) -> str:
        inspect = subprocess.run(
            [*images.RUN, "top", name, "user", "huser", "args"],
            capture_output=True,
            text=True,
            check=True,
        )
        return inspect.stdout


@pytest.fixture
def containers() -> Iterator[Containers]:
    made = Containers()
    yield made
    for name in reversed(made.names):
        subprocess.run([*images.RUN, "rm", "-f", name], capture_output=True, check=False)


def _declared_user(tag: str) -> str:
    out = subprocess.run(
        ["podman", "image", "inspect", tag], capture_output=True, text=True, check=True
    ).stdout
    return str(json.loads(out)[0]["Config"]["User"])


def _processes_run_as(containers: Containers, name: str, uid: int) -> None:
    users = containers.user(name).splitlines()[1:]
    assert users, "no process in the container"
    for line in users:
        user, host_uid = line.split()[:2]
        assert host_uid == str(uid), line  # no user namespace here: the same number
        assert user != "root", line


def test_pico_simulator_and_exporter_images(built: dict[str, str], containers: Containers) -> None:
    port = _free_port()
    sim = containers.run(built["picotemp-sim"], "-p", f"127.0.0.1:{port}:3030", name="pico-sim")
    exporter = containers.run(
        built["picotemp-exporter"],
        "--network",
        f"container:{sim}",
        "-e",
        "PICO_SERVER_URL=http://127.0.0.1:8080/",
        name="pico-exporter",
    )
    assert json.loads(_get(f"http://127.0.0.1:{port}/healthz"))["status"] == "ok"
    deadline = time.monotonic() + 30
    while "pico_up 1.0" not in (metrics := _get(f"http://127.0.0.1:{port}/metrics")):
        assert time.monotonic() < deadline, metrics + containers.logs(exporter)
        time.sleep(1)
    assert 'pico_temperature{unit="celsius"}' in metrics
    assert _declared_user(built["picotemp-exporter"]) == "10001:10001"
    _processes_run_as(containers, exporter, 10001)
    _processes_run_as(containers, sim, 10001)


@pytest.mark.parametrize(("app", "token"), [("dome", "DOME_API_TOKEN"), ("daq", "DAQ_API_TOKEN")])
def test_service_image_answers_as_its_user(
    built: dict[str, str], containers: Containers, app: str, token: str
) -> None:
    image = next(i for i in images.IMAGES if i.name == app)
    port = _free_port()
    name = containers.run(
        built[app],
        "-p",
        f"127.0.0.1:{port}:{image.port}",
        "-e",
        f"{token}=issue-11-test-token-0123456789",
        name=app,
    )
    try:
        health = json.loads(_get(f"http://127.0.0.1:{port}/healthz", timeout=90))
    except OSError:
        pytest.fail(containers.logs(name))
    assert health["status"] == "ok", health
    metrics = _get(f"http://127.0.0.1:{port}/metrics")
    assert f"{app}_" in metrics
    assert _declared_user(built[app]) == f"{image.uid}:{image.uid}"
    _processes_run_as(containers, name, image.uid)


def test_dockerfiles_pass_hadolint() -> None:
    dockerfiles = sorted({str(i.dockerfile) for i in images.IMAGES})
    assert len(dockerfiles) == 4
    result = subprocess.run(["hadolint", *dockerfiles], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    bad = Path(__file__).parent / "bad.Dockerfile"
    try:
        bad.write_text("FROM python:latest\nRUN apt-get install curl\n")
        assert subprocess.run(["hadolint", str(bad)], capture_output=True).returncode != 0
    finally:
        bad.unlink()


def test_the_images_deploy_main_pushes_are_built_here_as_it_builds_them() -> None:
    """Each image deploy-main pushes is one built and run here, from the same app and
    Dockerfile stage (build.py builds it with the workflow's own command line)."""
    from labpreview.app_image import IMAGES as PUSHED

    here = {i.name: (i.app, i.target) for i in images.IMAGES}
    for name, pushed in PUSHED.items():
        assert here.get(name) == (pushed.app, pushed.target), name


def test_pushed_images_carry_their_source_label(built: dict[str, str]) -> None:
    """The `lab.source` label deploy-main compares with the registry's copy is on the image
    built, equal to the digest of this commit's sources; the exporter's is the exporter
    stage (its entry point), not the simulator's."""
    from labpreview.app_image import IMAGES as PUSHED
    from labpreview.app_image import SOURCE_LABEL, repository_source

    for name, pushed in PUSHED.items():
        config = json.loads(
            subprocess.run(
                ["podman", "image", "inspect", built[name]],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )[0]["Config"]
        assert config["Labels"][SOURCE_LABEL] == repository_source(images.REPO, pushed), name
    entrypoint = "{{json .Config.Entrypoint}}"
    exporter = subprocess.run(
        ["podman", "image", "inspect", "--format", entrypoint, built["picotemp-exporter"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(exporter) == ["picotemp-exporter"]


def _archive_config(archive: Path) -> dict[str, Any]:
    """The image config in a single-image OCI archive (index -> manifest -> config)."""
    with tarfile.open(archive) as tar:

        def blob(descriptor: dict[str, Any]) -> dict[str, Any]:
            algorithm, digest = descriptor["digest"].split(":", 1)
            member = tar.extractfile(f"blobs/{algorithm}/{digest}")
            assert member
            loaded: dict[str, Any] = json.load(member)
            return loaded

        index = tar.extractfile("index.json")
        assert index
        (manifest,) = json.load(index)["manifests"]
        return blob(blob(manifest)["config"])


def test_app_image_build_saves_the_archive_deploy_main_pushes(
    built: dict[str, str], tmp_path: Path
) -> None:
    """labpreview.app_image.build, as `lab-preview app-image picotemp-exporter --build`
    runs it (here with the local base, and the layers `built` cached): an OCI archive
    named as the push job expects, whose image is the exporter stage labelled with this
    commit's source digest and the revision."""
    from labpreview.app_image import IMAGES as PUSHED
    from labpreview.app_image import REVISION_LABEL, SOURCE_LABEL, build, repository_source

    exporter = PUSHED["picotemp-exporter"]
    source = repository_source(images.REPO, exporter)
    tag = f"localhost/issue-14-app-image-{SUFFIX}:1"
    try:
        archive = build(
            exporter, images.REPO, tag, source, "c0ffee", tmp_path, images.build_options()
        )
    finally:
        subprocess.run(["podman", "rmi", "-f", tag], capture_output=True, check=False)
    assert archive == tmp_path / "picotemp-exporter.tar"
    config = _archive_config(archive)["config"]
    assert config["Labels"][SOURCE_LABEL] == source
    assert config["Labels"][REVISION_LABEL] == "c0ffee"
    assert config["Entrypoint"] == ["picotemp-exporter"]
    assert config["User"] == "10001:10001"


def _base_images(dockerfile: Path) -> list[str]:
    """The images a Dockerfile's FROM lines name, with ARG defaults substituted (the
    build's own stages and `scratch` left out)."""
    defaults: dict[str, str] = {}
    stages: set[str] = set()
    bases = []
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words[:1] == ["ARG"] and "=" in words[1]:
            key, value = words[1].split("=", 1)
            defaults[key] = value
        elif words[:1] == ["FROM"]:
            name = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], words[1])
            if name not in stages and name != "scratch":
                bases.append(name)
            if len(words) == 4 and words[2].upper() == "AS":
                stages.add(words[3])
    return bases


def test_base_images_are_named_in_full() -> None:
    """podman and buildah resolve no short name (`python:3.11`) where no
    unqualified-search registries are configured (Debian's default; deploy-main builds
    with podman): every base names its registry."""
    for dockerfile in sorted({i.dockerfile for i in images.IMAGES}):
        bases = _base_images(dockerfile)
        assert bases, dockerfile
        for base in bases:
            registry = base.split("/", 1)[0] if "/" in base else ""
            named = "." in registry or registry == "localhost"
            assert named, f"{dockerfile.relative_to(images.REPO)}: {base} names no registry"


def _janitor_namespaces(kube: Any) -> None:
    """lab-pr-1 (open PR: kept), lab-pr-2 (closed after deploying: deleted), and one not
    managed by us (kept whatever its PR says)."""
    from labjanitor import labels as L  # noqa: N812

    for name, pr, managed in (("lab-pr-1", 1, True), ("lab-pr-2", 2, True), ("x-pr-2", 2, False)):
        kube.state.add_namespace(
            name,
            {
                L.LABEL_TYPE: L.TYPE_EPHEMERAL,
                L.LABEL_MANAGED_BY: L.MANAGED_BY if managed else "someone-else",
                L.LABEL_PR: str(pr),
            },
            {
                L.ANNOTATION_REPOSITORY: "example-lab/lab",
                L.ANNOTATION_EXPIRES: "2999-01-01T00:00:00Z",
                L.ANNOTATION_UPDATED: "2026-01-01T00:00:00Z",
                L.ANNOTATION_DEPLOY_STATUS: "deployed",
            },
        )


def _run_as_the_cronjob(image: str, *, dry_run: bool, kube: Any, github: Any) -> Any:
    """One run of `image` with the container, pod security and environment the platform's
    CronJob gives it (labinfra.previews.janitor_cronjob_spec), the GitHub token from its
    Secret replaced by the fake's, and the two API URLs pointed at the local servers."""
    from labinfra.previews import PreviewSettings, janitor_cronjob_spec
    from labjanitor.testing.fake_github import TOKEN

    settings = PreviewSettings(enabled=True, domain="preview.lab", janitor_dry_run=dry_run)
    pod = janitor_cronjob_spec(settings)["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # No command or args: the image's ENTRYPOINT is what the CronJob runs.
    assert "command" not in container
    assert "args" not in container
    env = [f"{e['name']}={TOKEN if 'valueFrom' in e else e['value']}" for e in container["env"]]
    env += [f"JANITOR_KUBERNETES_HOST={kube.url}", f"JANITOR_GITHUB_API_URL={github.url}"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert [v["mountPath"] for v in container["volumeMounts"]] == ["/tmp"]
    argv = [
        *images.RUN,
        "run",
        "--rm",
        *images.ULIMITS,
        "--name",
        f"issue-14-janitor-{SUFFIX}",
        "--network",
        "host",  # the fake APIs listen on the host's loopback
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--user",
        f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        *[arg for pair in env for arg in ("-e", pair)],
        image,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture
def janitor_apis() -> Iterator[tuple[Any, Any]]:
    from labjanitor.testing import fake_github, fake_kube

    kube = fake_kube.FakeKubeServer().start()
    github = fake_github.FakeGitHubServer().start()
    try:
        yield kube, github
    finally:
        kube.stop()
        github.stop()


def test_janitor_image_runs_as_the_cronjob_runs_it(
    built: dict[str, str], janitor_apis: tuple[Any, Any]
) -> None:
    """The janitor image against local servers that answer as the Kubernetes API and
    GitHub's REST API do (labjanitor.testing: neither can be reached here), run with the
    CronJob's own container settings: a dry run decides and changes nothing, then a real
    run deletes the closed PR's namespace and keeps the rest."""
    from labinfra.previews import JANITOR_UID, PreviewSettings
    from labjanitor.testing.fake_github import pull

    tag = built["janitor"]
    inspect = json.loads(
        subprocess.run(
            ["podman", "image", "inspect", tag], capture_output=True, text=True, check=True
        ).stdout
    )[0]["Config"]
    assert inspect["Entrypoint"] == ["lab-janitor"]
    assert inspect["User"] == f"{JANITOR_UID}:{JANITOR_UID}"
    assert not inspect.get("ExposedPorts")
    # The image the CronJob names is the one deploy-main pushes: <registry>/lab/janitor:<the
    # janitor's version> (infra/preview/tests/test_app_image.py checks the workflow's side).
    assert PreviewSettings().janitor_image.rsplit(":", 1)[1] == _janitor_version()

    usage = subprocess.run(
        [*images.RUN, "run", "--rm", *images.ULIMITS, "--read-only", tag, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert usage.returncode == 0, usage.stderr
    assert usage.stdout.startswith("usage: lab-janitor")

    kube, github = janitor_apis
    github.state.add_pull("example-lab/lab", pull(1, "open"))
    github.state.add_pull("example-lab/lab", pull(2, "closed"))
    _janitor_namespaces(kube)

    dry = _run_as_the_cronjob(tag, dry_run=True, kube=kube, github=github)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    log = dry.stdout + dry.stderr
    assert "namespace=lab-pr-2 action=delete reason=closed" in log, log
    assert "namespace=x-pr-2 action=keep reason=not-managed" in log, log
    assert set(kube.state.namespaces) == {"lab-pr-1", "lab-pr-2", "x-pr-2"}
    assert not [r for r in kube.state.requests if r[0] in ("DELETE", "PATCH", "PUT", "POST")]

    real = _run_as_the_cronjob(tag, dry_run=False, kube=kube, github=github)
    assert real.returncode == 0, real.stdout + real.stderr
    assert set(kube.state.namespaces) == {"lab-pr-1", "x-pr-2"}
    # Its ETag cache, written to the ConfigMap the platform's RBAC lets it write.
    assert ("v1/configmaps", "preview-system", "preview-janitor-etags") in kube.state.objects


def _janitor_version() -> str:
    import tomllib

    project = tomllib.loads((images.REPO / "apps/janitor/pyproject.toml").read_text())
    return str(project["project"]["version"])
