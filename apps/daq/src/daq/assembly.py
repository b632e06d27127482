"""Builds the lab from settings: one serial port per configured instrument (one lock per
port, shared by every ELL14 on a bus), each driver on its port, each wrapped for the lab."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from daq.config import (
    DaqSettings,
    Ell14BusConfig,
    ESP300Config,
    MaiTaiConfig,
    PortConfig,
    PowerMeterConfig,
)
from daq.core.instruments import Instrument, Laser, MountBus, PowerMeter, StageController
from daq.core.interfaces import Link, MountDriver
from daq.core.lab import Lab
from daq.hardware.ell14 import Ell14
from daq.hardware.esp300 import ESP300, AxisLimits
from daq.hardware.maitai import MaiTai
from daq.hardware.parsing import describe_ell14_status
from daq.hardware.pm1830c import PowerMeter1830C
from daq.hardware.serial_transport import PortSettings, SerialTransport
from daq.hardware.transport import Transport
from daq.metrics import DaqMetrics

DEFAULT_BAUD = {"esp300": 19200, "pm1830c": 9600, "maitai": 115200, "ell14": 9600}


class Port(Transport, Link, Protocol):
    """What a port is to the drivers (bytes) and to core (a link that comes and goes)."""


PortFactory = Callable[[PortConfig, str], Port]


def port_for(config: PortConfig, kind: str) -> SerialTransport:
    return SerialTransport(
        PortSettings(
            port=config.port,
            baudrate=config.baudrate or DEFAULT_BAUD[kind],
            rtscts=config.rtscts,
            xonxoff=config.xonxoff,
            timeout=config.timeout_s,
            reconnect_max=config.reconnect_max_s,
        )
    )


def build_instrument(
    config: PortConfig,
    settings: DaqSettings,
    metrics: DaqMetrics,
    ports: PortFactory = port_for,
) -> Instrument:
    if isinstance(config, ESP300Config):
        port = ports(config, "esp300")
        limits = {
            a.number: AxisLimits(a.minimum, a.maximum, a.max_velocity, a.max_acceleration)
            for a in config.axes
        }
        driver = ESP300(port, limits, position_query=config.position_query)
        return StageController(config.name, port, metrics, driver)  # type: ignore[arg-type]
    if isinstance(config, PowerMeterConfig):
        port = ports(config, "pm1830c")
        pm = PowerMeter1830C(
            port,
            wavelength_range=(config.wavelength_min_nm, config.wavelength_max_nm),
            unit_codes=config.unit_codes,
        )
        return PowerMeter(config.name, port, metrics, pm, config.units)  # type: ignore[arg-type]
    if isinstance(config, MaiTaiConfig):
        port = ports(config, "maitai")
        laser = MaiTai(
            port,
            terminator=config.terminator,
            wavelength_range=(config.wavelength_min_nm, config.wavelength_max_nm),
        )
        return Laser(
            config.name,
            port,
            metrics,
            laser,  # type: ignore[arg-type]
            interlock_closed=settings.safety.laser_interlock_closed,
            watchdog_s=config.watchdog_s,
        )
    if isinstance(config, Ell14BusConfig):
        port = ports(config, "ell14")
        mounts: dict[str, MountDriver] = {
            m.name: Ell14(  # type: ignore[misc]
                port, m.address, move_timeout=config.move_timeout_s, reply_timeout=config.timeout_s
            )
            for m in config.mounts
        }
        return MountBus(config.name, port, metrics, mounts, describe_ell14_status)
    raise TypeError(f"unknown instrument configuration {type(config).__name__}")


def build_lab(
    settings: DaqSettings, metrics: DaqMetrics | None = None, ports: PortFactory = port_for
) -> Lab:
    """The lab from settings; ``ports`` makes each instrument's port (serial ports by
    default; in-process tests give loopback transports to the simulators)."""
    metrics = metrics or DaqMetrics(settings.data_dir)
    instruments = [build_instrument(c, settings, metrics, ports) for c in settings.instruments]
    return Lab(
        instruments,
        settings.data_dir,
        metrics,
        settings.monitor_interval_s,
        reserve_bytes=int(settings.storage_reserve_mb * 1024 * 1024),
    )
