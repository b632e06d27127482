from pathlib import Path

import pytest
from pydantic import AnyHttpUrl, Field, PositiveFloat, SecretStr
from pydantic_settings import SettingsConfigDict

from labkit.listen import Listen, ListenAddress
from labkit.settings import ConfigError, ServiceSettings, env_name, load_settings


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_")

    server_url: AnyHttpUrl = Field(validation_alias="PICO_SERVER_URL")
    listen: Listen = ListenAddress.parse("0.0.0.0:3030")
    timeout_seconds: PositiveFloat = 3.0
    token: SecretStr | None = None


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PICO_SERVER_URL", "EXAMPLE_LISTEN", "EXAMPLE_TIMEOUT_SECONDS", "EXAMPLE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def test_reads_environment_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICO_SERVER_URL", "http://10.0.0.5/")
    monkeypatch.setenv("EXAMPLE_TIMEOUT_SECONDS", "1.5")
    settings = load_settings(ExampleSettings)
    assert str(settings.server_url) == "http://10.0.0.5/"
    assert settings.timeout_seconds == 1.5
    assert settings.listen == ListenAddress("0.0.0.0", 3030)


def test_missing_setting_is_named_by_its_variable() -> None:
    with pytest.raises(ConfigError, match=r"^PICO_SERVER_URL: required but not set$"):
        load_settings(ExampleSettings)


def test_every_bad_value_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICO_SERVER_URL", "not a url")
    monkeypatch.setenv("EXAMPLE_TIMEOUT_SECONDS", "-1")
    monkeypatch.setenv("EXAMPLE_LISTEN", "nowhere")
    with pytest.raises(ConfigError) as caught:
        load_settings(ExampleSettings)
    lines = str(caught.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "PICO_SERVER_URL",
        "EXAMPLE_LISTEN",
        "EXAMPLE_TIMEOUT_SECONDS",
    ]
    assert "'-1'" in lines[2]
    assert "HOST:PORT" in lines[1]


def test_yaml_file_is_overridden_by_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "example.yaml"
    config.write_text("PICO_SERVER_URL: http://pico.lab/\ntimeout_seconds: 7\nlisten: ':9000'\n")
    monkeypatch.setenv("EXAMPLE_TIMEOUT_SECONDS", "2")
    settings = load_settings(ExampleSettings, config)
    assert str(settings.server_url) == "http://pico.lab/"
    assert settings.timeout_seconds == 2
    assert settings.listen.port == 9000


def test_unknown_key_in_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICO_SERVER_URL", "http://pico.lab/")
    config = tmp_path / "example.yaml"
    config.write_text("timeout_secnds: 7\n")
    with pytest.raises(ConfigError, match="timeout_secnds: unknown setting"):
        load_settings(ExampleSettings, config)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: not found"):
        load_settings(ExampleSettings, tmp_path / "nope.yaml")


def test_secret_from_systemd_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "EXAMPLE_TOKEN").write_text("s3cret")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("PICO_SERVER_URL", "http://pico.lab/")
    settings = load_settings(ExampleSettings)
    assert settings.token is not None
    assert settings.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_env_name_uses_prefix_or_alias() -> None:
    assert env_name(ExampleSettings, "timeout_seconds") == "EXAMPLE_TIMEOUT_SECONDS"
    assert env_name(ExampleSettings, "server_url") == "PICO_SERVER_URL"
