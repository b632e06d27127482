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
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

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
    assert len(dockerfiles) == 3
    result = subprocess.run(["hadolint", *dockerfiles], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    bad = Path(__file__).parent / "bad.Dockerfile"
    try:
        bad.write_text("FROM python:latest\nRUN apt-get install curl\n")
        assert subprocess.run(["hadolint", str(bad)], capture_output=True).returncode != 0
    finally:
        bad.unlink()
