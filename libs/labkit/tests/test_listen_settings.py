from pathlib import Path

import pytest
from pydantic_settings import SettingsConfigDict

from labkit.listen import Listen, ListenAddress
from labkit.settings import ConfigError, ServiceSettings, load_settings


class _Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LISTENTEST_", extra="forbid", frozen=True)
    listen: Listen = ListenAddress.parse("0.0.0.0:3030")


def test_listen_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTENTEST_LISTEN", "127.0.0.1:8081")
    settings = load_settings(_Settings)
    assert settings.listen == ListenAddress("127.0.0.1", 8081)


def test_listen_from_a_file_and_the_default(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text('listen: "[::1]:9000"\n')
    assert load_settings(_Settings, path).listen == ListenAddress("::1", 9000)
    assert load_settings(_Settings).listen.port == 3030


def test_a_bad_listen_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTENTEST_LISTEN", "nowhere")
    with pytest.raises(ConfigError, match="LISTENTEST_LISTEN"):
        load_settings(_Settings)
