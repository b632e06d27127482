"""python_service's controller-side wheelhouse builder, for a Raspberry Pi (aarch64).

Real downloads from PyPI (the lock's pinned files, hashes checked) and real `uv build`s.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
BUILDER = ROOT / "roles/python_service/files/build_wheelhouse.py"


def build(out: Path, package: str = "picotemp", arch: str = "aarch64") -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            str(BUILDER),
            "--workspace",
            str(ROOT),
            "--package",
            package,
            "--arch",
            arch,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=500,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_aarch64_wheelhouse_is_complete_deterministic_and_cached(tmp_path: Path) -> None:
    first = build(tmp_path / "a")
    assert first["built"] is True
    assert first["host_build"] == []
    archive = Path(first["archive"])
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        pins = tar.extractfile("requirements.txt").read().decode().split()  # type: ignore[union-attr]
    compiled = [n for n in names if n.endswith(".whl") and "-none-any" not in n]
    assert compiled, names
    assert all("aarch64" in n for n in compiled), compiled
    assert not any("x86_64" in n for n in names)
    # sdnotify is published only as source; pure Python, so built here into a wheel.
    assert any(n.startswith("sdnotify-") and n.endswith("-py3-none-any.whl") for n in names)
    assert "picotemp==0.1.0" in pins
    assert "labkit==0.1.0" in pins
    wheels = [n for n in names if n.endswith((".whl", ".tar.gz"))]
    assert len(pins) == len(wheels)

    again = build(tmp_path / "a")
    assert again["built"] is False
    assert again["archive"] == first["archive"]

    elsewhere = build(tmp_path / "b")
    assert elsewhere["built"] is True
    assert Path(elsewhere["archive"]).read_bytes() == archive.read_bytes()


def test_unknown_package_is_refused_by_name(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BUILDER),
            "--workspace",
            str(ROOT),
            "--package",
            "no-such-app",
            "--arch",
            "x86_64",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "no-such-app" in done.stderr
    assert list(tmp_path.iterdir()) == []


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_wheelhouse", BUILDER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_markers_are_judged_for_the_host_not_the_controller(tmp_path: Path) -> None:
    """The dome's `pi` extra (lgpio, spidev) is marked `platform_machine == 'aarch64'`: pip
    on this x86 controller would drop it even when downloading for a Pi."""
    builder = _builder()
    exported = subprocess.run(
        ["uv", "export", "--frozen", "--no-dev", "--no-header", "--package", "dome",
         "--extra", "pi", "--no-emit-workspace"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    blocks = builder._requirement_blocks(exported)
    marked = [b for b in blocks if "platform_machine" in b.splitlines()[0]]
    assert {b.split("==")[0] for b in marked} >= {"lgpio", "spidev"}, marked
    for_pi = [b for b in builder.for_target(blocks, "aarch64") if b.startswith(("lgpio", "spidev"))]
    assert len(for_pi) == 2
    assert all(";" not in b.splitlines()[0] for b in for_pi), for_pi
    for_pc = builder.for_target(blocks, "x86_64")
    assert not [b for b in for_pc if b.startswith(("lgpio", "spidev"))]
    # pip then really fetches the Pi's wheel of lgpio, with the lock's hash checked.
    lgpio = [b for b in for_pi if b.startswith("lgpio")]
    requirements = tmp_path / "req.txt"
    requirements.write_text("".join(lgpio))
    (tmp_path / "wheels").mkdir()
    assert builder.download_wheels(requirements, "aarch64", tmp_path / "wheels") == []
    assert [p.name for p in (tmp_path / "wheels").glob("lgpio-*aarch64*.whl")], list(
        (tmp_path / "wheels").iterdir()
    )
