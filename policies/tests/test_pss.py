"""labpolicies.pss against Kubernetes' own Pod Security fixtures (tests/fixtures/pss)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from labpolicies.pss import OVERRIDDEN_BY_RESTRICTED, Level, violations

FIXTURES = Path(__file__).parent / "fixtures" / "pss"


def _pods(level: str, outcome: str) -> list[Any]:
    paths = sorted((FIXTURES / level / outcome).glob("*.yaml"))
    assert paths, f"no {level}/{outcome} fixtures: they are vendored in the repository"
    return [pytest.param(yaml.safe_load(p.read_text()), id=p.stem) for p in paths]


@pytest.mark.parametrize("pod", _pods("restricted", "pass"))
def test_restricted_admits_what_kubernetes_admits(pod: dict[str, Any]) -> None:
    assert violations(pod["metadata"], pod["spec"], "restricted") == []


@pytest.mark.parametrize("pod", _pods("restricted", "fail"))
def test_restricted_refuses_what_kubernetes_refuses(pod: dict[str, Any]) -> None:
    assert violations(pod["metadata"], pod["spec"], "restricted")


@pytest.mark.parametrize("pod", _pods("baseline", "pass"))
def test_baseline_admits_what_kubernetes_admits(pod: dict[str, Any]) -> None:
    assert violations(pod["metadata"], pod["spec"], "baseline") == []


@pytest.mark.parametrize("pod", _pods("baseline", "fail"))
def test_baseline_refuses_what_kubernetes_refuses(pod: dict[str, Any]) -> None:
    assert violations(pod["metadata"], pod["spec"], "baseline")
    assert violations(pod["metadata"], pod["spec"], "restricted")


@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_the_fixture_names_the_check_that_refuses_it(level: Level) -> None:
    """Each fail fixture is named after the admission check that refuses it (at restricted,
    the check that overrides a baseline one)."""
    replaced_by = {b.lower(): r.lower() for r, b in OVERRIDDEN_BY_RESTRICTED.items()}
    for path in sorted((FIXTURES / level / "fail").glob("*.yaml")):
        pod = yaml.safe_load(path.read_text())
        checks = {v.check.lower() for v in violations(pod["metadata"], pod["spec"], level)}
        named = path.stem.rstrip("0123456789")
        if level == "restricted":
            named = replaced_by.get(named, named)
        assert named in checks, (path.name, checks)


def test_privileged_admits_everything() -> None:
    pod = yaml.safe_load((FIXTURES / "baseline" / "fail" / "privileged0.yaml").read_text())
    assert violations(pod["metadata"], pod["spec"], "privileged") == []
