import subprocess
import sys
from pathlib import Path

import pytest

from dome.config import DomeSettings
from labkit.settings import ConfigError, load_settings

APP = Path(__file__).parents[1]


def test_environment_overrides_and_listen_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOME_LISTEN", "127.0.0.1:9999")
    monkeypatch.setenv("DOME_MAX_SPEED_DEG_S", "3.5")
    settings = load_settings(DomeSettings)
    assert (settings.listen.host, settings.listen.port) == ("127.0.0.1", 9999)
    assert settings.max_speed_deg_s == 3.5


@pytest.mark.parametrize(
    ("var", "value", "named"),
    [
        ("DOME_SPI_SPEED_HZ", "2000000", "DOME_SPI_SPEED_HZ"),
        ("DOME_MAX_SPEED_DEG_S", "fast", "DOME_MAX_SPEED_DEG_S"),
        ("DOME_ALPACA_ALLOW_NETWORKS", '["not a net"]', "DOME_ALPACA_ALLOW_NETWORKS"),
        ("DOME_PIER_SIDE", "north", "DOME_PIER_SIDE"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, named: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=named):
        load_settings(DomeSettings)


def test_the_read_token_comes_from_a_systemd_credential(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As the role delivers it: LoadCredentialEncrypted=DOME_API_READ_TOKEN:... puts a file
    of that name in $CREDENTIALS_DIRECTORY; absent, there is no read token."""
    assert load_settings(DomeSettings).api_read_token is None
    (tmp_path / "DOME_API_TOKEN").write_text("the-command-token-0123")
    (tmp_path / "DOME_API_READ_TOKEN").write_text("the-read-token-0123")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    settings = load_settings(DomeSettings)
    assert settings.api_read_token is not None
    assert settings.api_read_token.get_secret_value() == "the-read-token-0123"


def test_a_read_token_equal_to_the_command_token_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOME_API_TOKEN", "same-value-0123456")
    monkeypatch.setenv("DOME_API_READ_TOKEN", "same-value-0123456")
    with pytest.raises(ConfigError, match=r"DOME_API_READ_TOKEN.*must differ") as raised:
        load_settings(DomeSettings)
    assert "same-value" not in str(raised.value)


@pytest.mark.integration
def test_serving_without_a_token_is_a_configuration_error(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DOME_STATE_DIR": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-m", "dome", "api", "--sim"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "DOME_API_TOKEN" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.integration
def test_without_sim_and_without_hardware_the_control_process_says_so(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DOME_STATE_DIR": str(tmp_path),
        "DOME_SOCKET_PATH": str(tmp_path / "s"),
    }
    r = subprocess.run(
        [sys.executable, "-m", "dome", "control"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "cannot open the dome hardware" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr
