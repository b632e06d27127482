"""The pve-exporter the platform deploys is the version the integration tests run.

tests/integrations/test_proxmox.py runs prometheus-pve-exporter from PyPI, at the version
requirements/pve.txt pins, against fakepve; the platform deploys the upstream image
(labinfra.charts.PVE_EXPORTER_IMAGE), tagged `{{version}}` by the project's release
workflow (prometheus-pve/prometheus-pve-exporter .github/workflows/container-image.yml at
v3.10.2, cited in charts.py). A bump of either alone fails here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from envs import ensure_env
from packaging.requirements import Requirement

from labinfra.charts import PVE_EXPORTER_IMAGE

PACKAGE = "prometheus-pve-exporter"
REPOSITORY = "docker.io/prompve/prometheus-pve-exporter"
SPEC = Path(__file__).parent / "requirements" / "pve.txt"


def pinned_version() -> str:
    """The exact version of prometheus-pve-exporter in the tests' environment spec."""
    found = []
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        if requirement.name == PACKAGE:
            found.append(requirement)
    assert len(found) == 1, f"{SPEC}: {PACKAGE} must be listed once"
    (specifier,) = found[0].specifier
    assert specifier.operator == "==", f"{SPEC}: pin {PACKAGE} exactly"
    return specifier.version


def test_the_image_tag_is_the_pinned_pypi_version() -> None:
    repository, tag = PVE_EXPORTER_IMAGE.rsplit(":", 1)
    assert repository == REPOSITORY
    assert tag == pinned_version(), (
        f"labinfra.charts pins {PVE_EXPORTER_IMAGE}, the integration tests run "
        f"{PACKAGE}=={pinned_version()}: move both together"
    )


@pytest.mark.integration
def test_the_tests_environment_runs_that_version() -> None:
    """The environment test_proxmox.py starts pve_exporter from holds the pinned version."""
    python = ensure_env("pve") / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({PACKAGE!r}))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert installed == pinned_version() == PVE_EXPORTER_IMAGE.rsplit(":", 1)[1]
