"""The instruments as the lab sees them: named, with readings, a safe state, and a status.

Each wraps a driver and its port. Commands go through :meth:`Instrument.run`, which times
them and counts failures; values are checked by the drivers before any byte is sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol, TypeVar

from daq.core.errors import SafetyRefused
from daq.hardware.ell14 import Ell14
from daq.hardware.errors import HardwareError, TransportError, ValueRefused
from daq.hardware.esp300 import ESP300, ESP300Axis
from daq.hardware.maitai import MaiTai
from daq.hardware.pm1830c import PowerMeter1830C
from daq.metrics import DaqMetrics
from labkit.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")


class Link(Protocol):
    """What the lab needs to know about a port besides sending bytes."""

    lock: threading.RLock
    reconnects: int
    last_error: str | None
    on_reconnect: list[Callable[[], None]]
    on_disconnect: list[Callable[[str], None]]

    @property
    def name(self) -> str: ...
    @property
    def connected(self) -> bool: ...
    def open(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Status:
    name: str
    kind: str
    port: str
    up: bool
    last_error: str | None
    reconnects: int
    detail: dict[str, Any]


class Instrument:
    kind: ClassVar[str] = ""

    def __init__(self, name: str, link: Link, metrics: DaqMetrics) -> None:
        self.name = name
        self.link = link
        self.metrics = metrics
        self.up = False
        self.last_error: str | None = None
        self.detail: dict[str, Any] = {}
        metrics.declare(name, self.kind)
        link.on_reconnect.append(self._reconnected)

    # --- what subclasses provide --------------------------------------------------------

    def readings(self) -> dict[str, Callable[[], float]]:
        return {}

    def setup(self) -> None:
        """Bring the instrument to a known state after (re)connecting."""

    def safe_state(self) -> None:
        """Stop motion, close shutters: used at shutdown and after losing control."""

    def poll(self) -> dict[str, Any]:
        """A cheap status query for the monitor; returns what /instruments shows."""
        return {}

    def settings(self) -> dict[str, Any]:
        """The configuration that shapes this instrument's data, for file metadata."""
        return {"port": self.link.name}

    # --- shared -------------------------------------------------------------------------

    def run(self, command: str, action: Callable[[], T]) -> T:
        """Run one command: time it, count a failure, track whether the port is up."""
        start = time.perf_counter()
        try:
            result = action()
        except ValueRefused:
            raise  # nothing was sent: not an instrument failure
        except TransportError as exc:
            self._failed(exc)
            raise
        except HardwareError as exc:
            self.metrics.errors.labels(instrument=self.name, error=type(exc).__name__).inc()
            self.last_error = str(exc)
            raise
        self.up = True
        self.metrics.instrument_up.labels(instrument=self.name, kind=self.kind).set(1)
        self.metrics.command_seconds.labels(instrument=self.name, command=command).observe(
            time.perf_counter() - start
        )
        return result

    def _failed(self, exc: Exception) -> None:
        self.metrics.errors.labels(instrument=self.name, error=type(exc).__name__).inc()
        self.up = False
        self.last_error = str(exc)
        self.metrics.instrument_up.labels(instrument=self.name, kind=self.kind).set(0)

    def _reconnected(self) -> None:
        self.metrics.reconnects.labels(instrument=self.name).inc()
        log.warning("port back: restoring a safe state", instrument=self.name, port=self.link.name)
        try:
            self.setup()
            self.safe_state()
        except HardwareError as exc:
            log.error("could not restore a safe state", instrument=self.name, error=str(exc))

    def connect(self) -> None:
        try:
            self.run("connect", self._open_and_setup)
        except HardwareError as exc:
            log.warning("instrument not available yet", instrument=self.name, error=str(exc))

    def _open_and_setup(self) -> None:
        self.link.open()
        self.setup()

    def refresh(self) -> None:
        try:
            self.detail = self.run("poll", self.poll)
        except HardwareError as exc:
            self.detail = {}
            self.last_error = str(exc)

    def status(self) -> Status:
        return Status(
            self.name,
            self.kind,
            self.link.name,
            self.up,
            self.last_error,
            self.link.reconnects,
            self.detail,
        )


class StageController(Instrument):
    kind = "esp300"

    def __init__(self, name: str, link: Link, metrics: DaqMetrics, driver: ESP300) -> None:
        super().__init__(name, link, metrics)
        self.driver = driver

    def readings(self) -> dict[str, Callable[[], float]]:
        def reader(axis: ESP300Axis) -> Callable[[], float]:
            return lambda: self.run("position", lambda: axis.position)

        return {f"{self.name}.axis{n}.position": reader(a) for n, a in self.driver.axes.items()}

    def setup(self) -> None:
        self.driver.error_code()  # drains a stale error and proves the link
        for axis in self.driver.axes.values():
            # never offer a move the controller's own software limits would refuse
            left, right = axis.left_limit, axis.right_limit
            configured = axis.limits
            low, high = max(configured.minimum, left), min(configured.maximum, right)
            if (low, high) != (configured.minimum, configured.maximum) and low < high:
                log.warning(
                    "configured travel is wider than the controller's software limits",
                    instrument=self.name,
                    axis=axis.number,
                    configured=f"{configured.minimum:g}..{configured.maximum:g}",
                    controller=f"{left:g}..{right:g}",
                )
                axis.limits = replace(configured, minimum=low, maximum=high)

    def safe_state(self) -> None:
        self.driver.abort()

    def poll(self) -> dict[str, Any]:
        return {
            f"axis{n}": {"position": axis.position, "motion_done": axis.motion_done}
            for n, axis in self.driver.axes.items()
        }

    def settings(self) -> dict[str, Any]:
        limits = {
            f"axis{n}": [a.limits.minimum, a.limits.maximum] for n, a in self.driver.axes.items()
        }
        return {
            **super().settings(),
            "limits": limits,
            "position_query": self.driver.position_query,
        }


class PowerMeter(Instrument):
    kind = "pm1830c"

    def __init__(
        self, name: str, link: Link, metrics: DaqMetrics, driver: PowerMeter1830C, units: str
    ) -> None:
        super().__init__(name, link, metrics)
        self.driver = driver
        self.units = units

    def readings(self) -> dict[str, Callable[[], float]]:
        return {f"{self.name}.power": lambda: self.run("power", lambda: self.driver.power)}

    def setup(self) -> None:
        # unit numbering differs between sources: always set it, never trust the front panel
        self.driver.set_units(self.units)

    def poll(self) -> dict[str, Any]:
        return {
            "power": self.driver.power,
            "units": self.units,
            "wavelength_nm": self.driver.wavelength,
        }

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "units": self.units, "unit_codes": self.driver.unit_codes}


class Laser(Instrument):
    kind = "maitai"

    def __init__(
        self,
        name: str,
        link: Link,
        metrics: DaqMetrics,
        driver: MaiTai,
        *,
        interlock_closed: bool,
        watchdog_s: int,
    ) -> None:
        super().__init__(name, link, metrics)
        self.driver = driver
        self.interlock_closed = interlock_closed
        self.watchdog_s = watchdog_s

    def readings(self) -> dict[str, Callable[[], float]]:
        return {
            f"{self.name}.power": lambda: self.run("power", lambda: self.driver.power),
            f"{self.name}.wavelength": lambda: self.run(
                "wavelength", lambda: self.driver.actual_wavelength
            ),
        }

    def setup(self) -> None:
        # the tuning range this laser reports wins over a wider configured one
        low = max(self.driver.wavelength_range[0], round(self.driver.minimum_wavelength))
        high = min(self.driver.wavelength_range[1], round(self.driver.maximum_wavelength))
        if low < high:
            self.driver.wavelength_range = (low, high)

    def safe_state(self) -> None:
        self.driver.shutter_open = False

    def poll(self) -> dict[str, Any]:
        # polling also feeds the laser's watchdog
        status = self.driver.status
        return {
            "warmup_percent": self.driver.warmup_percent,
            "emission_possible": status.emission_possible,
            "modelocked": status.modelocked,
            "shutter_open": self.driver.shutter_open,
            "wavelength_nm": self.driver.actual_wavelength,
            "power_w": self.driver.power,
        }

    def check_allowed(self, confirm: bool, what: str) -> None:
        if not self.interlock_closed:
            raise SafetyRefused(
                f"{what} refused: the laser interlock setting "
                "(safety.laser_interlock_closed) is not set"
            )
        if confirm is not True:
            raise SafetyRefused(f"{what} needs explicit confirmation (confirm: true)")

    def set_emission(self, on: bool, confirm: bool) -> None:
        if on:
            self.check_allowed(confirm, "emission")

            def switch_on() -> None:
                with self.link.lock:
                    if self.watchdog_s:
                        self.driver.set_watchdog(self.watchdog_s)
                    self.driver.emission_on()

            self.run("emission_on", switch_on)
        else:
            self.run("emission_off", self.driver.emission_off)

    def set_shutter(self, open_: bool, confirm: bool) -> None:
        if open_:
            self.check_allowed(confirm, "opening the shutter")
        self.run("shutter", lambda: setattr(self.driver, "shutter_open", open_))

    def set_wavelength(self, nm: int) -> None:
        self.run("wavelength", lambda: setattr(self.driver, "wavelength", nm))

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "wavelength_range": list(self.driver.wavelength_range)}


class MountBus(Instrument):
    kind = "ell14"

    def __init__(
        self, name: str, link: Link, metrics: DaqMetrics, mounts: dict[str, Ell14]
    ) -> None:
        super().__init__(name, link, metrics)
        self.mounts = mounts

    def readings(self) -> dict[str, Callable[[], float]]:
        def reader(mount: Ell14) -> Callable[[], float]:
            return lambda: self.run("angle", lambda: mount.angle)

        return {f"{name}.angle": reader(mount) for name, mount in self.mounts.items()}

    def setup(self) -> None:
        for mount in self.mounts.values():
            mount.identify()

    def poll(self) -> dict[str, Any]:
        return {
            name: {"address": m.address, "angle": m.angle, "status": m.status()}
            for name, m in self.mounts.items()
        }

    def settings(self) -> dict[str, Any]:
        info = {
            name: {
                "address": m.address,
                "serial": m.info.serial if m.info else None,
                "pulses_per_revolution": m.info.pulses_per_unit if m.info else None,
            }
            for name, m in self.mounts.items()
        }
        return {**super().settings(), "mounts": info}
