from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from daq.config import DaqSettings
from labkit.settings import ConfigError, load_settings

GOOD = {
    "instruments": [
        {
            "name": "stage",
            "kind": "esp300",
            "port": "/dev/serial/by-id/esp",
            "axes": [{"number": 1, "minimum": -5, "maximum": 5}],
        },
        {
            "name": "meter",
            "kind": "pm1830c",
            "port": "/dev/serial/by-id/pm",
            "unit_codes": {"W": 1, "dBm": 2},
        },
        {
            "name": "bus",
            "kind": "ell14",
            "port": "/dev/serial/by-id/ell",
            "mounts": [{"name": "hwp", "address": "0"}],
        },
    ]
}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "daq.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_good_config_loads_with_the_token_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAQ_API_TOKEN", "t" * 20)
    settings = load_settings(DaqSettings, write(tmp_path, GOOD))
    assert [i.name for i in settings.instruments] == ["stage", "meter", "bus"]
    assert settings.api_token.get_secret_value() == "t" * 20
    assert settings.safety.laser_interlock_closed is False  # emission off unless said otherwise


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda c: c["instruments"].append({**c["instruments"][1], "port": "/dev/other"}),
            "repeated: meter",
        ),
        (
            lambda c: c["instruments"].append({**c["instruments"][1], "name": "m2"}),
            "two instruments on one port",
        ),
        (
            lambda c: c["instruments"][0]["axes"].append({"number": 1, "minimum": 0, "maximum": 1}),
            "axis numbers repeat",
        ),
        (
            lambda c: c["instruments"][0]["axes"][0].update(minimum=9),
            "minimum must be below maximum",
        ),
        (
            lambda c: c["instruments"][2]["mounts"].append({"name": "b", "address": "0"}),
            "share an address",
        ),
        (lambda c: c["instruments"][2]["mounts"][0].update(address="10"), "address"),
        (lambda c: c["instruments"][1].update(name="Bad Name"), "name"),
        (lambda c: c.update(colour="blue"), "colour: unknown setting"),
        (
            lambda c: c.update(
                monitor_interval_s=6,
                instruments=[
                    {"name": "laser", "kind": "maitai", "port": "/dev/l", "watchdog_s": 10}
                ],
            ),
            "cannot keep the laser's watchdog fed",
        ),
    ],
)
def test_config_problems_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: object, problem: str
) -> None:
    monkeypatch.setenv("DAQ_API_TOKEN", "t" * 20)
    import copy

    config = copy.deepcopy(GOOD)
    change(config)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=problem):
        load_settings(DaqSettings, write(tmp_path, config))


def test_the_token_is_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAQ_API_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="DAQ_API_TOKEN: required but not set"):
        load_settings(DaqSettings, write(tmp_path, GOOD))
