"""Every policy against its positive and negative fixtures, through pulumi-policy's own API."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import EnforcementLevel, ResourceValidationArgs, ResourceValidationPolicy

from labpolicies.pack import POLICIES

FIXTURES = Path(__file__).parent / "fixtures"
BASE = yaml.safe_load((FIXTURES / "_workload.yaml").read_text())


def _patch(props: dict[str, Any], path: str, value: Any) -> None:
    """Set (or, for None, remove) a dotted path; keys containing dots match whole."""
    parts = path.split(".")
    node: Any = props
    while parts:
        if isinstance(node, list):
            index = int(parts.pop(0))
            if not parts:
                node[index] = value
                return
            node = node[index]
            continue
        for size in range(len(parts), 0, -1):
            key = ".".join(parts[:size])
            if key in node or size == 1:
                break
        parts = parts[size:]
        if not parts:
            if value is None:
                node.pop(key, None)
            else:
                node[key] = value
            return
        node = node.setdefault(key, {})


def _cases(kind: str) -> list[Any]:
    out = []
    for path in sorted(FIXTURES.glob("[!_]*.yaml")):
        data = yaml.safe_load(path.read_text())
        base = data.get("base", BASE)
        for i, case in enumerate(data.get(kind) or []):
            patch = case.get("patch", case) if kind == "fail" else case
            resource = copy.deepcopy(base)
            for key, value in patch.items():
                _patch(resource["props"], key, value)
            expect = case.get("expect") if kind == "fail" else None
            out.append(pytest.param(path.stem, resource, expect, id=f"{path.stem}-{kind}-{i}"))
    return out


def _policy(name: str) -> ResourceValidationPolicy:
    return next(p for p in POLICIES if p.name == name)


def _violations(policy: ResourceValidationPolicy, resource: dict[str, Any]) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(
        resource_type=resource["type"],
        props=resource["props"],
        urn=f"urn:pulumi:test::test::{resource['type']}::fixture",
        name="fixture",
        opts=None,  # type: ignore[arg-type]
        provider=None,
    )
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


@pytest.mark.parametrize(("policy", "resource", "expect"), _cases("pass"))
def test_compliant_fixture_passes(policy: str, resource: dict[str, Any], expect: None) -> None:
    assert _violations(_policy(policy), resource) == []


@pytest.mark.parametrize(("policy", "resource", "expect"), _cases("fail"))
def test_violating_fixture_is_reported(policy: str, resource: dict[str, Any], expect: str) -> None:
    violations = _violations(_policy(policy), resource)
    assert violations, f"{policy} accepted a fixture it must refuse"
    assert any(expect in v for v in violations), violations


def test_every_policy_has_both_kinds_of_fixture() -> None:
    for policy in POLICIES:
        data = yaml.safe_load((FIXTURES / f"{policy.name}.yaml").read_text())
        assert data.get("pass"), policy.name
        assert data.get("fail"), policy.name


def test_only_probes_are_advisory() -> None:
    advisory = {p.name for p in POLICIES if p.enforcement_level == EnforcementLevel.ADVISORY}
    assert advisory == {"liveness-and-readiness-probes"}


def test_base_workload_passes_every_policy() -> None:
    """The fixtures' base is compliant, so each negative fixture fails for its own reason."""
    for policy in POLICIES:
        assert _violations(policy, copy.deepcopy(BASE)) == [], policy.name
