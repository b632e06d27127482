import pytest
from labkit.listen import Listen, ListenAddress
from labkit.settings import ConfigError, ServiceSettings, load_settings
from pydantic_settings import SettingsConfigDict


class _Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LISTENTEST_", extra="forbid", frozen=True)

    listen: Listen = ListenAddress.parse("0.0.0.0:3030")


def test_listen_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LISTENTEST_LISTEN", "127.0.0.1:8123")
    settings = load_settings(_Settings)
    assert settings.listen == ListenAddress("127.0.0.1", 8123)


def test_bad_listen_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTENTEST_LISTEN", "nonsense")
    with pytest.raises(ConfigError, match="LISTENTEST_LISTEN"):
        load_settings(_Settings)
