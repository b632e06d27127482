"""The daemon's settings: where it listens, where data goes, and its instruments.

Loaded from a YAML file and the environment (``DAQ_`` prefix) by labkit; every problem
is reported at start, one line each, naming the setting. ``DAQ_API_TOKEN`` has no
default: the daemon does not start without one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from labkit.listen import Listen, ListenAddress
from labkit.settings import ServiceSettings, load_settings

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
HexAddress = Annotated[str, Field(pattern=r"^[0-9A-Fa-f]$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PortConfig(_Strict):
    name: Name
    port: str = Field(description="Stable device path, e.g. /dev/serial/by-id/usb-FTDI_...")
    baudrate: int | None = Field(default=None, description="Default: the instrument's own")
    rtscts: bool = False
    xonxoff: bool = False
    timeout_s: float = Field(default=1.0, gt=0, le=60)
    reconnect_max_s: float = Field(default=5.0, gt=0, le=300)


class AxisConfig(_Strict):
    number: int = Field(ge=1, le=3)
    minimum: float
    maximum: float
    max_velocity: float = Field(default=100.0, gt=0)
    max_acceleration: float = Field(default=400.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> AxisConfig:
        if self.minimum >= self.maximum:
            raise ValueError(f"axis {self.number}: minimum must be below maximum")
        return self


class ESP300Config(PortConfig):
    kind: Literal["esp300"]
    axes: list[AxisConfig] = Field(min_length=1, max_length=3)
    position_query: Literal["TP", "TP?"] = "TP?"

    @model_validator(mode="after")
    def _unique_axes(self) -> ESP300Config:
        numbers = [a.number for a in self.axes]
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"{self.name}: axis numbers repeat: {numbers}")
        return self


class PowerMeterConfig(PortConfig):
    kind: Literal["pm1830c"]
    wavelength_min_nm: int = 400
    wavelength_max_nm: int = 1100
    units: Literal["W", "dB", "dBm", "REL"] = "W"
    unit_codes: dict[str, int] = Field(
        default_factory=lambda: {"W": 1, "dB": 2, "dBm": 3, "REL": 4}
    )


class MaiTaiConfig(PortConfig):
    kind: Literal["maitai"]
    terminator: Literal["CR", "LF", "CRLF"] = "LF"
    wavelength_min_nm: int = 690
    wavelength_max_nm: int = 1040
    watchdog_s: int = Field(default=10, ge=0, le=3600, description="Pump off after this silence")


class MountConfig(_Strict):
    name: Name
    address: HexAddress


class Ell14BusConfig(PortConfig):
    kind: Literal["ell14"]
    mounts: list[MountConfig] = Field(min_length=1, max_length=16)
    move_timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _unique_addresses(self) -> Ell14BusConfig:
        addresses = [m.address.upper() for m in self.mounts]
        if len(set(addresses)) != len(addresses):
            raise ValueError(f"{self.name}: two mounts share an address: {addresses}")
        return self


InstrumentConfig = Annotated[
    ESP300Config | PowerMeterConfig | MaiTaiConfig | Ell14BusConfig, Field(discriminator="kind")
]


class SafetyConfig(_Strict):
    laser_interlock_closed: bool = Field(
        default=False,
        description="Set true only when the room's laser interlock is in place: emission is "
        "refused otherwise, whatever a client confirms.",
    )


class DaqSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DAQ_", extra="forbid", frozen=True)

    api_token: SecretStr = Field(min_length=16)
    listen: Listen = ListenAddress.parse("127.0.0.1:8470")
    data_dir: Path = Path("/var/lib/daq")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    monitor_interval_s: float = Field(default=1.0, gt=0, le=60)
    storage_reserve_mb: float = Field(
        default=16,
        ge=0,
        le=4096,
        description="Space held in data_dir and let go when the disk fills, so files can "
        "still be finished (metadata, the Parquet/HDF5 copy); 0 holds none",
    )
    safety: SafetyConfig = SafetyConfig()
    instruments: list[InstrumentConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names_and_ports(self) -> DaqSettings:
        names: list[str] = []
        for inst in self.instruments:
            names.append(inst.name)
            if isinstance(inst, Ell14BusConfig):
                names.extend(m.name for m in inst.mounts)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"instrument names must be unique, repeated: {', '.join(repeated)}")
        for inst in self.instruments:
            if (
                isinstance(inst, MaiTaiConfig)
                and inst.watchdog_s
                and self.monitor_interval_s * 2 > inst.watchdog_s
            ):
                raise ValueError(
                    f"{inst.name}: monitor_interval_s ({self.monitor_interval_s:g}) must be at "
                    f"most half of watchdog_s ({inst.watchdog_s}), or polling cannot keep the "
                    "laser's watchdog fed"
                )
        ports = [i.port for i in self.instruments]
        shared = sorted({p for p in ports if ports.count(p) > 1})
        if shared:
            raise ValueError(
                f"two instruments on one port (put ELL14s in one bus): {', '.join(shared)}"
            )
        return self


@lru_cache(maxsize=1)
def get_settings(config_file: Path | None = None) -> DaqSettings:
    """The settings, built once; tests call ``get_settings.cache_clear()`` to swap them."""
    return load_settings(DaqSettings, config_file)
