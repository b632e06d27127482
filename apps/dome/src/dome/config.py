"""The dome's settings: environment (``DOME_*``) > systemd credentials > YAML file > defaults."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from dome.core.mechanics import Mechanics
from labkit.listen import Listen, ListenAddress
from labkit.settings import ServiceSettings, load_settings

LOCAL_NETWORKS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
)


class DomeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DOME_", extra="forbid", frozen=True)

    # --- processes and files ---
    listen: Listen = ListenAddress.parse("0.0.0.0:8470")
    socket_path: Path = Path("/run/dome/control.sock")
    state_dir: Path = Path("/var/lib/dome")
    log_level: str = "info"

    # --- access ---
    api_token: SecretStr | None = None
    # A second, read-only token (DOME_API_READ_TOKEN) for clients that only watch, such as
    # Home Assistant: it reads status and streams, every command refuses it (403). Absent:
    # no read token. It matters with open_reads=false, where reads need a token.
    api_read_token: SecretStr | None = None
    open_reads: bool = True
    alpaca_access: Literal["off", "allow"] = "allow"
    # Alpaca has no authentication and its clients (NINA, SGP, ASCOM Remote, ...) sit on
    # the observatory's network: the private and link-local ranges by default, never a
    # public address (loopback is always allowed). Narrow it to the observatory's subnet.
    alpaca_allow_networks: list[str] = Field(default_factory=lambda: list(LOCAL_NETWORKS))
    alpaca_basic_user: str | None = None
    alpaca_basic_password: SecretStr | None = None
    alpaca_discovery_port: int = Field(default=32227, ge=0, le=65535)
    alpaca_discovery_host: str = "0.0.0.0"

    # --- hardware (real) ---
    gpio_chip: int = 0
    dir_gpio: int = 17
    step_gpio: int = 18
    spi_bus: int = 0
    spi_device: int = 0
    spi_speed_hz: int = Field(default=500_000, gt=0, le=1_000_000)
    # 0 as the observatory's DriftApp reads it in production; 1 frames the word without a
    # leading bit (datasheet timing). See the README, "Encoder and SPI mode".
    spi_mode: Literal[0, 1] = 0
    # home switch: a GPIO input, pressed at home_switch_azimuth_deg; "falling" = pressing
    # pulls the line low (switch to ground, pull-up on), as at the observatory (GPIO 27)
    home_switch_gpio: int | None = Field(default=None, ge=0)
    home_switch_edge: Literal["falling", "rising"] = "falling"
    home_switch_azimuth_deg: float = Field(default=0.0, ge=0, lt=360)
    home_search_speed_deg_s: float = Field(default=2.0, gt=0, le=10)
    home_search_direction: Literal[1, -1] = 1

    # --- shutter: none, relays on GPIO, or a Shelly Gen2 relay device over HTTP ---
    shutter: Literal["none", "gpio", "shelly"] = "none"
    shutter_open_gpio: int = Field(default=5, ge=0)
    shutter_close_gpio: int = Field(default=6, ge=0)
    shutter_relay_active_low: bool = False
    shutter_shelly_url: str | None = None  # http://HOST (Gen2 RPC)
    shutter_shelly_open_switch: int = Field(default=0, ge=0)
    shutter_shelly_close_switch: int = Field(default=1, ge=0)
    # the limit switches: on GPIO, or on the Shelly's inputs
    shutter_limits: Literal["gpio", "shelly"] = "gpio"
    shutter_open_limit_gpio: int = Field(default=23, ge=0)
    shutter_closed_limit_gpio: int = Field(default=24, ge=0)
    shutter_limit_active_low: bool = True
    shutter_shelly_open_input: int = Field(default=0, ge=0)
    shutter_shelly_closed_input: int = Field(default=1, ge=0)
    shutter_travel_timeout_s: float = Field(default=60.0, gt=0, le=600)
    # refuse rotating while the shutter moves and moving the shutter while rotating
    # (domes whose shutter power or mechanics need it)
    shutter_rotation_interlock: bool = False

    # --- weather / safety: none, a rain sensor on GPIO, or an Alpaca SafetyMonitor ---
    safety_source: Literal["none", "rain_gpio", "alpaca"] = "none"
    rain_gpio: int = Field(default=22, ge=0)
    rain_active_low: bool = True  # the FC-37/AZDelivery module pulls DO low when wet
    safety_monitor_address: str | None = None  # HOST:PORT of the Alpaca server
    safety_monitor_device: int = Field(default=0, ge=0)
    safety_poll_s: float = Field(default=2.0, gt=0, le=60)
    safety_clear_s: float = Field(default=60.0, ge=0, le=3600)
    safety_park: bool = True

    # --- slaving to a telescope (ASCOM Alpaca Telescope) ---
    mount_address: str | None = None  # HOST:PORT of the Alpaca server
    mount_device: int = Field(default=0, ge=0)

    # --- mechanics and limits ---
    motor_steps_per_rev: int = Field(default=200, gt=0)
    microsteps: int = Field(default=8, gt=0)
    motor_turns_per_dome_turn: float = Field(default=200.0, gt=0)
    # any ratio: 46.06 for a 50 mm wheel on a 2303 mm ring
    encoder_turns_per_dome_turn: float = Field(default=1.0, gt=0, le=1000)
    motor_reversed: bool = False
    encoder_reversed: bool = False
    max_speed_deg_s: float = Field(default=6.0, gt=0, le=30)
    acceleration_deg_s2: float = Field(default=6.0, gt=0, le=60)
    creep_speed_deg_s: float = Field(default=0.5, gt=0)
    stall_deg: float = Field(default=0.7, gt=0, le=20)
    deadman_s: float = Field(default=1.5, ge=0.2, le=30)
    runaway_wrong_way_deg: float = Field(default=1.0, gt=0, le=30)
    runaway_error_growth_deg: float = Field(default=2.0, gt=0, le=90)
    slew_time_factor: float = Field(default=1.5, ge=1, le=10)
    slew_time_margin_s: float = Field(default=10.0, ge=0, le=600)
    control_hz: float = Field(default=50.0, ge=5, le=200)
    control_rt_priority: int = Field(default=20, ge=0, le=99)
    # the control process's other threads (IPC, shutter, safety, tracking, history) run
    # SCHED_FIFO below the loop: a thread holding the GIL is then never left waiting
    # behind ordinary processes while the loop waits for the GIL (priority inversion)
    control_helper_rt_priority: int = Field(default=10, ge=0, le=98)
    stop_timeout_s: float = Field(default=10.0, gt=0)

    # --- site and geometry ---
    latitude_deg: float = Field(default=52.0, ge=-90, le=90)
    longitude_deg: float = Field(default=5.0, ge=-180, le=180)
    elevation_m: float = 10.0
    dome_radius_m: float = Field(default=1.5, gt=0)
    mount_offset_north_m: float = 0.0
    mount_offset_east_m: float = 0.0
    mount_offset_up_m: float = 0.0
    optical_offset_m: float = Field(default=0.0, ge=0)
    # east / west (fixed), by-hour-angle (flip at the meridian + offset), mount (ASCOM
    # SideOfPier of the slaved telescope, else by hour angle)
    pier_side: Literal["east", "west", "by-hour-angle", "mount"] = "by-hour-angle"
    meridian_flip_offset_deg: float = Field(default=0.0, ge=-30, le=30)
    # a step of the measured table where the dome goes back by more than this is a flip
    corrections_flip_threshold_deg: float = Field(default=30.0, ge=5, le=180)

    # --- tracking ---
    tracking_update_s: float = Field(default=10.0, gt=0)
    tracking_dead_band_deg: float = Field(default=2.0, ge=0, le=30)
    min_altitude_deg: float = Field(default=5.0, ge=-5, le=80)
    simbad_online: bool = False
    simbad_timeout_s: float = Field(default=5.0, gt=0, le=60)

    # --- history ---
    session_retention_days: int = Field(default=90, ge=1)

    @model_validator(mode="after")
    def _mechanics_hold(self) -> DomeSettings:
        try:
            self.mechanics()
        except ValueError as exc:
            raise ValueError(f"mechanics: {exc}") from None
        return self

    @model_validator(mode="after")
    def _devices_named(self) -> DomeSettings:
        shelly = self.shutter == "shelly" or (
            self.shutter != "none" and self.shutter_limits == "shelly"
        )
        if shelly and not self.shutter_shelly_url:
            raise ValueError("shutter_shelly_url: required for a Shelly shutter")
        if self.safety_source == "alpaca" and not self.safety_monitor_address:
            raise ValueError("safety_monitor_address: required for safety_source=alpaca")
        return self

    @model_validator(mode="after")
    def _read_token_differs(self) -> DomeSettings:
        # The same value in both would be the command token under another name: whoever
        # holds the "read-only" one could open the shutter.
        read, main = self.api_read_token, self.api_token
        if read and main and read.get_secret_value() == main.get_secret_value():
            raise ValueError(
                "api_read_token (DOME_API_READ_TOKEN): must differ from the command token"
                " (DOME_API_TOKEN)"
            )
        return self

    @field_validator("alpaca_allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)
        return value

    def mechanics(self) -> Mechanics:
        return Mechanics(
            motor_steps_per_rev=self.motor_steps_per_rev,
            microsteps=self.microsteps,
            motor_turns_per_dome_turn=self.motor_turns_per_dome_turn,
            encoder_turns_per_dome_turn=self.encoder_turns_per_dome_turn,
            motor_reversed=self.motor_reversed,
            encoder_reversed=self.encoder_reversed,
            max_speed_deg_s=self.max_speed_deg_s,
            acceleration_deg_s2=self.acceleration_deg_s2,
            creep_speed_deg_s=min(self.creep_speed_deg_s, self.max_speed_deg_s),
            stall_deg=self.stall_deg,
            tick_hz=self.control_hz,
            deadman_s=self.deadman_s,
            wrong_way_deg=self.runaway_wrong_way_deg,
            error_growth_deg=self.runaway_error_growth_deg,
            slew_time_factor=self.slew_time_factor,
            slew_time_margin_s=self.slew_time_margin_s,
            home_search_speed_deg_s=self.home_search_speed_deg_s,
            home_search_direction=self.home_search_direction,
        )

    @property
    def positions_file(self) -> Path:
        return self.state_dir / "positions.json"

    @property
    def sessions_db(self) -> Path:
        return self.state_dir / "sessions.sqlite"

    @property
    def corrections_file(self) -> Path:
        return self.state_dir / "corrections.json"

    @property
    def catalogue_cache(self) -> Path:
        return self.state_dir / "catalogue-cache.json"


@lru_cache(maxsize=1)
def get_settings(config_file: Path | None = None) -> DomeSettings:
    """The settings, built once per process; tests call ``get_settings.cache_clear()``."""
    return load_settings(DomeSettings, config_file)
