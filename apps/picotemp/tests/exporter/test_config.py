from pathlib import Path

import pytest
from labkit.listen import ListenAddress
from labkit.settings import ConfigError, load_settings
from picotemp.exporter.config import ExporterSettings

VARIABLES = (
    "PICO_SERVER_URL",
    "PICOTEMP_LISTEN",
    "PICOTEMP_CACHE_SECONDS",
    "PICOTEMP_TIMEOUT_SECONDS",
    "PICOTEMP_LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICO_SERVER_URL", "http://picotemp.lan/")
    settings = load_settings(ExporterSettings)
    assert str(settings.server_url) == "http://picotemp.lan/"
    assert settings.listen == ListenAddress("0.0.0.0", 3030)
    assert settings.cache_seconds == 2
    assert settings.timeout_seconds == 3


def test_every_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICO_SERVER_URL", "http://10.0.0.7")
    monkeypatch.setenv("PICOTEMP_LISTEN", "127.0.0.1:9999")
    monkeypatch.setenv("PICOTEMP_CACHE_SECONDS", "0.5")
    monkeypatch.setenv("PICOTEMP_TIMEOUT_SECONDS", "1.5")
    settings = load_settings(ExporterSettings)
    assert settings.listen == ListenAddress("127.0.0.1", 9999)
    assert (settings.cache_seconds, settings.timeout_seconds) == (0.5, 1.5)


def test_yaml_file_below_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "picotemp.yml"
    config.write_text("PICO_SERVER_URL: http://from-file/\ncache_seconds: 7\ntimeout_seconds: 2\n")
    monkeypatch.setenv("PICOTEMP_TIMEOUT_SECONDS", "1")
    settings = load_settings(ExporterSettings, config)
    assert str(settings.server_url) == "http://from-file/"
    assert (settings.cache_seconds, settings.timeout_seconds) == (7, 1)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "PICO_SERVER_URL: required"),
        ({"PICO_SERVER_URL": "ftp://pico/"}, "PICO_SERVER_URL"),
        ({"PICO_SERVER_URL": "not a url"}, "PICO_SERVER_URL"),
        ({"PICOTEMP_LISTEN": "3030"}, "PICOTEMP_LISTEN"),
        ({"PICOTEMP_CACHE_SECONDS": "soon"}, "PICOTEMP_CACHE_SECONDS"),
        ({"PICOTEMP_CACHE_SECONDS": "0"}, "PICOTEMP_CACHE_SECONDS"),
        ({"PICOTEMP_TIMEOUT_SECONDS": "-1"}, "PICOTEMP_TIMEOUT_SECONDS"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    if "PICO_SERVER_URL" not in env and named != "PICO_SERVER_URL: required":
        env = {"PICO_SERVER_URL": "http://pico/", **env}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        load_settings(ExporterSettings)
