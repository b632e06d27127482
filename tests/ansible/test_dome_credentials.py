"""The dome's credentials as playbooks/dome.yml gives them to the python_service role,
rendered by ansible-core's own templating (no host needed): the command token always, the
read-only token (DOME_API_READ_TOKEN) only when the vault has one. The units that the role
makes of them are checked on the virtual Pi in test_device_apps_on_virtual_hosts.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = Path(__file__).resolve().parents[2]
MAIN, READ = "m" * 24, "r" * 24


def credentials(**vault: str) -> Any:
    (play,) = yaml.safe_load((ROOT / "playbooks/dome.yml").read_text())
    (role,) = play["roles"]
    assert role["role"] == "python_service"
    expression = role["vars"]["python_service_credentials"]
    templar = Templar(loader=DataLoader(), variables=dict(vault))
    if isinstance(expression, dict):  # a literal mapping of templated values
        return {name: templar.template(trust_as_template(v)) for name, v in expression.items()}
    return templar.template(trust_as_template(expression))


def test_the_read_token_is_a_credential_when_the_vault_has_one() -> None:
    rendered = credentials(vault_dome_api_token=MAIN, vault_dome_api_read_token=READ)
    assert rendered == {"DOME_API_TOKEN": MAIN, "DOME_API_READ_TOKEN": READ}


@pytest.mark.parametrize("vault", [{}, {"vault_dome_api_read_token": ""}])
def test_no_read_token_in_the_vault_is_no_credential(vault: dict[str, str]) -> None:
    assert credentials(vault_dome_api_token=MAIN, **vault) == {"DOME_API_TOKEN": MAIN}


def test_the_vault_examples_show_the_read_token() -> None:
    for env in ("sandbox", "production"):
        example = ROOT / "inventory" / env / "group_vars/all/vault.yml.example"
        shape = yaml.safe_load(example.read_text())
        # sandbox-vault fills every CHANGE-ME key, so the virtual lab's dome has one
        assert str(shape["vault_dome_api_read_token"]).startswith("CHANGE-ME"), env
