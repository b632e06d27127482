"""k8s-ee.yaml validation: the fixture files, the messages, the defaults, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labpreview.config import ConfigError, load_config, validate_text

FIXTURES = Path(__file__).parent / "fixtures"
VALID = sorted((FIXTURES / "valid").glob("*.yaml"))
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
REPO = Path(__file__).resolve().parents[3]


def _expected(path: Path) -> list[str]:
    return [
        line.removeprefix("# expect: ")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("# expect: ")
    ]


def test_there_are_fixtures_of_both_kinds() -> None:
    assert len(VALID) >= 6
    assert len(INVALID) >= 30
    assert all(_expected(p) for p in INVALID)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_files_validate(path: Path) -> None:
    load_config(path)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_files_name_each_problem(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = [f"{p.path}: {p.message}" for p in caught.value.problems]
    for expected in _expected(path):
        assert any(line.startswith(expected) for line in lines), (expected, lines)
    # One line per problem: the file has exactly the problems it declares.
    assert len(lines) == len(_expected(path)), lines


def test_every_problem_is_reported_with_its_line() -> None:
    text = "projectId: Bad_Id\napp:\n  port: 0\nextra: 1\nenv:\n  9X: y\n"
    with pytest.raises(ConfigError) as caught:
        validate_text(text, "k8s-ee.yaml")
    rendered = str(caught.value).splitlines()
    assert rendered == [
        "k8s-ee.yaml:1: projectId: 'Bad_Id' is not allowed; expected lowercase letters, "
        "digits and '-', starting and ending with a letter or digit, 1-20 characters",
        "k8s-ee.yaml:3: app.port: 0 is out of range; expected at least 1",
        "k8s-ee.yaml:4: extra: unknown key (allowed here: app, apps, databases, env, envFrom, "
        "image, ingress, lifetime, metrics, projectId, resources, seed)",
        "k8s-ee.yaml:6: env.9X: '9X' is not a valid name here; expected a variable name: "
        "letters, digits and '_', not starting with a digit",
    ]


def test_defaults_are_the_originals() -> None:
    """Defaults from the original's schema.json and validate-config action (@ddd901c)."""
    config = validate_text("projectId: myapp\n")
    assert config.app.port == 3000
    assert config.app.health_path == "/health"
    assert config.app.image.context == "."
    assert config.app.image.dockerfile == "Dockerfile"
    r = config.app.resources
    assert (r.cpu_request, r.memory_request, r.cpu_limit, r.memory_limit) == (
        "50m",
        "128Mi",
        "200m",
        "384Mi",
    )
    assert config.databases == {}
    assert config.ingress_enabled is True
    assert config.app.metrics.enabled is False
    assert config.app.metrics.interval == "30s"
    assert config.lifetime.ttl_hours == 7 * 24
    assert config.lifetime.sleep_after_hours is None


def test_database_forms() -> None:
    config = validate_text(
        "projectId: a\ndatabases:\n  postgresql: {storage: 2Gi}\n  redis: true\n"
        "  minio: {enabled: false}\n  mongodb: false\n"
    )
    assert sorted(config.databases) == ["postgresql", "redis"]
    assert config.databases["postgresql"].storage == "2Gi"
    assert config.databases["postgresql"].version == "16"


def test_the_original_dogfood_file_enables_what_it_says() -> None:
    config = load_config(FIXTURES / "valid" / "original-dogfood.yaml")
    assert sorted(config.databases) == ["mariadb", "minio", "mongodb", "redis"]
    assert config.app.health_path == "/api/health"
    assert config.app.metrics.enabled


def test_this_repositorys_own_file_is_valid() -> None:
    config = load_config(REPO / "k8s-ee.yaml")
    assert {a.name for a in config.apps} >= {"picotemp", "picotemp-sim"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labpreview.cli", *args], capture_output=True, text=True, check=False
    )


def test_cli_validate_accepts_a_valid_file() -> None:
    result = _cli("validate", str(FIXTURES / "valid" / "original-dogfood.yaml"))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_cli_validate_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "k8s-ee.yaml"
    bad.write_text("projectId: UPPER\napp:\n  port: -1\n  nope: 1\n", encoding="utf-8")
    result = _cli("validate", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{bad}:1: projectId: ")
    assert lines[1].startswith(f"{bad}:3: app.port: ")
    assert lines[2].startswith(f"{bad}:4: app.nope: unknown key")


def test_cli_validate_missing_file(tmp_path: Path) -> None:
    result = _cli("validate", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "cannot read the file" in result.stderr
