"""The settings the inventories give each app are settings the app accepts.

The plays write `dome_settings`, `daq_settings` and `picotemp_exporter_settings` to the
apps' YAML files as they are (plus the listen address from the port variables); here each
app's own settings class loads them, so a setting renamed in an app, or mistyped in an
inventory, fails here rather than on a host with exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from daq.config import DaqSettings
from dome.config import DomeSettings
from labkit.settings import load_settings
from picotemp.exporter.config import ExporterSettings

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("production", "sandbox")


def group_vars(env: str, group: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (ROOT / "inventory" / env / "group_vars" / group).read_text()
    )
    return data


def write(tmp_path: Path, settings: dict[str, Any]) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_dome_settings_load(env: str, tmp_path: Path) -> None:
    port = group_vars(env, "all/main.yml")["dome_port"]
    settings = {
        **group_vars(env, "dome_controllers.yml")["dome_settings"],
        "listen": f"0.0.0.0:{port}",
    }
    loaded = load_settings(DomeSettings, write(tmp_path, settings))
    assert loaded.listen.port == port
    assert loaded.api_token is None  # a credential, never in the file


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_daq_settings_load(env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAQ_API_TOKEN", "a-token-from-the-vault-0123")
    port = group_vars(env, "all/main.yml")["daq_port"]
    settings = {
        **group_vars(env, "lab_pcs.yml")["daq_settings"],
        "listen": f"0.0.0.0:{port}",
        "data_dir": "/var/lib/daq",
    }
    loaded = load_settings(DaqSettings, write(tmp_path, settings))
    assert loaded.listen.port == port
    assert {i.name for i in loaded.instruments} == {"stage", "meter", "laser", "rotators"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_picotemp_exporter_settings_load(env: str, tmp_path: Path) -> None:
    every = group_vars(env, "all/main.yml")
    settings = {
        **group_vars(env, "picotemp_exporters.yml")["picotemp_exporter_settings"],
        # The sandbox's URL is a template (the simulator's host); its shape is the same.
        "PICO_SERVER_URL": "http://192.0.2.10:8080/",
        "listen": f"0.0.0.0:{every['picotemp_exporter_port']}",
    }
    loaded = load_settings(ExporterSettings, write(tmp_path, settings))
    assert loaded.listen.port == every["picotemp_exporter_port"]
