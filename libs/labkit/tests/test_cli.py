import pytest

from labkit.cli import run_main
from labkit.settings import ConfigError


def test_config_error_exits_2_with_one_line_per_problem(capsys: pytest.CaptureFixture[str]) -> None:
    def main() -> int:
        raise ConfigError("A_URL: required but not set\nA_PORT: bad")

    with pytest.raises(SystemExit) as caught:
        run_main("example", main)
    assert caught.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "example: configuration error: A_URL: required but not set",
        "example: configuration error: A_PORT: bad",
    ]


def test_return_value_becomes_exit_status() -> None:
    with pytest.raises(SystemExit) as caught:
        run_main("example", lambda: 3)
    assert caught.value.code == 3
