"""Each role's meta/argument_specs.yml is its documentation: it must match defaults/."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
TYPES = {"str": str, "bool": bool, "int": int, "list": list, "dict": dict}


def test_the_expected_roles_exist() -> None:
    assert set(ROLES) >= {
        "base",
        "raspberry_pi",
        "node_exporter",
        "python_service",
        "serial_devices",
        "k3s_prereqs",
    }


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_equal_defaults(role: str) -> None:
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text()) or {}
    specs = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults), set(options) ^ set(defaults)
    for name, option in options.items():
        assert option["default"] == defaults[name], name
        assert isinstance(defaults[name], TYPES[option["type"]]), name
        assert option["description"].strip(), name


@pytest.mark.parametrize("role", ROLES)
def test_variables_are_prefixed_with_the_role_name(role: str) -> None:
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults/main.yml").read_text()) or {}
    assert all(name.startswith(f"{role}_") for name in defaults), list(defaults)
    internals = yaml.safe_load((ROOT / "roles" / role / "vars/main.yml").read_text()) or {}
    assert all(name.startswith(f"_{role}_") for name in internals), list(internals)


@pytest.mark.parametrize("role", ROLES)
def test_role_has_a_readme(role: str) -> None:
    readme = ROOT / "roles" / role / "README.md"
    assert readme.is_file()
    assert "argument_specs.yml" in readme.read_text(), "link the settings, do not copy them"


@pytest.mark.parametrize("role", ROLES)
def test_templates_start_with_ansible_managed(role: str) -> None:
    for template in (ROOT / "roles" / role / "templates").glob("*.j2"):
        assert "{{ ansible_managed }}" in template.read_text().splitlines()[0], template.name
