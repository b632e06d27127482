"""The instruments as the lab sees them: named, with readings, a safe state, and a status.

Each wraps a driver (through the interfaces of :mod:`daq.core.interfaces`) and its port.
Every exchange goes through :meth:`Instrument.run`, which times it, counts failures and
keeps the instrument's state honest:

- a failed exchange (no reply, a reply that does not parse or answers another question,
  a lost port, an unconfirmed command) marks the instrument **down**;
- while down, nothing it says is trusted: the next use first runs a **probe**, an
  exchange with an answer that cannot be mistaken (an identity, a setting whose value is
  known), after the input has been drained; only a good probe brings it back **up**. No
  reading is ever served from a stale value.

The instrument's own error reports (an ESP300 error code) are good exchanges: the
instrument is up and said no.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from daq.core.errors import (
    BadReply,
    InstrumentDown,
    InstrumentError,
    InstrumentFault,
    NotReady,
    SafetyRefused,
    UnknownInstrument,
    ValueRefused,
)
from daq.core.interfaces import Axis, LaserDriver, Link, MeterDriver, MountDriver, StageDriver
from daq.metrics import DaqMetrics
from labkit.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Sample:
    """One reading: its value and why it is not good, if it is not."""

    value: float
    flags: tuple[str, ...] = ()
    status: int | None = None
    """The instrument's raw status byte read with the value, where it has one."""

    @property
    def good(self) -> bool:
        return not self.flags


@dataclass(frozen=True)
class Reading:
    """A named quantity an instrument can measure."""

    read: Callable[[], Sample]
    unit: str = ""
    has_status: bool = False
    """True when each sample carries the instrument's status byte (recorded with it)."""


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
        self.last_error: str | None = "not connected yet"
        self.detail: dict[str, Any] = {}
        self.identity: str | None = None
        """What the instrument says it is, read at connect (where it can say)."""
        metrics.declare(name, self.kind)
        link.on_reconnect.append(self._reconnected)

    # --- what subclasses provide --------------------------------------------------------

    def readings(self) -> dict[str, Reading]:
        return {}

    def setup(self) -> None:
        """Bring the instrument to a known state after (re)connecting."""

    def probe(self) -> None:
        """An exchange whose answer cannot be mistaken for another: proves the line is in
        step again after a failure. Raises an InstrumentFault if it is not."""

    def safe_state(self) -> None:
        """Stop motion, close shutters: used at shutdown and after losing control."""

    def poll(self) -> dict[str, Any]:
        """A cheap status query for the monitor; returns what /instruments shows."""
        return {}

    def settings(self) -> dict[str, Any]:
        """The configuration and state that shape this instrument's data, for metadata."""
        return {"port": self.link.name, "identity": self.identity, "up": self.up}

    def start(self) -> None:
        """Start the instrument's own threads, if it has any."""

    def stop(self) -> None:
        """Stop them."""

    # --- shared -------------------------------------------------------------------------

    def run(self, command: str, action: Callable[[], T]) -> T:
        """Run one exchange: recover first if down, time it, count a failure, and mark the
        instrument down on any failed exchange."""
        with self.link.lock:
            if not self.up:
                self._recover()
            start = time.perf_counter()
            try:
                result = action()
            except InstrumentError as exc:
                # the instrument answered: the line is fine, the command was refused
                self._count(exc)
                self.last_error = str(exc)
                raise
            except InstrumentFault as exc:
                self._failed(exc)
                raise
            self.metrics.command_seconds.labels(instrument=self.name, command=command).observe(
                time.perf_counter() - start
            )
            return result

    def _recover(self) -> None:
        previous = self.last_error
        try:
            self.probe()
        except InstrumentFault as exc:
            self._failed(exc)
            raise InstrumentDown(
                f"{self.name} is down ({previous}); no good exchange yet: {exc}"
            ) from exc
        self._mark_up()
        log.info("instrument back up", instrument=self.name, after=previous)

    def _mark_up(self) -> None:
        if not self.up:
            self.up = True
            self.last_error = None
            self.metrics.instrument_up.labels(instrument=self.name, kind=self.kind).set(1)

    def _count(self, exc: Exception) -> None:
        self.metrics.errors.labels(instrument=self.name, error=type(exc).__name__).inc()

    def _failed(self, exc: Exception) -> None:
        self._count(exc)
        if self.up:
            log.warning("instrument down", instrument=self.name, error=str(exc))
        self.up = False
        self.last_error = str(exc)
        self.metrics.instrument_up.labels(instrument=self.name, kind=self.kind).set(0)

    def _reconnected(self) -> None:
        self.metrics.reconnects.labels(instrument=self.name).inc()
        log.warning("port back: restoring a safe state", instrument=self.name, port=self.link.name)
        try:
            self.setup()
            self.safe_state()
        except InstrumentFault as exc:
            log.error("could not restore a safe state", instrument=self.name, error=str(exc))

    def connect(self) -> None:
        """Open the port and set the instrument up; a failure leaves it down, not raised."""
        with self.link.lock:
            try:
                self.link.open()
                self.setup()
            except InstrumentFault as exc:
                self._failed(exc)
                log.warning("instrument not available yet", instrument=self.name, error=str(exc))
                return
            self._mark_up()

    def refresh(self) -> None:
        try:
            self.detail = self.run("poll", self.poll)
        except InstrumentFault as exc:
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


class _Replays:
    """Results of recent requests by the client's request id: a repeated request (a client
    retrying after a lost answer) gets the first result instead of moving again."""

    def __init__(self, size: int = 256) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, tuple[str, Any]] = OrderedDict()
        self._size = size

    def run(self, request_id: str | None, what: str, action: Callable[[], T]) -> T:
        if request_id is None:
            return action()
        with self._lock:
            if request_id in self._seen:
                earlier, result = self._seen[request_id]
                if earlier != what:
                    raise ValueRefused(f"request_id {request_id!r} was used for {earlier}")
                log.info("repeated request answered from its first result", request_id=request_id)
                return result  # type: ignore[no-any-return]
        result = action()
        with self._lock:
            self._seen[request_id] = (what, result)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
        return result


@dataclass(frozen=True)
class AxisState:
    axis: int
    position: float
    motion_done: bool
    target: float | None = None


class StageController(Instrument):
    kind = "esp300"

    def __init__(
        self,
        name: str,
        link: Link,
        metrics: DaqMetrics,
        driver: StageDriver,
        move_timeout: float = 60.0,
    ) -> None:
        super().__init__(name, link, metrics)
        self.driver = driver
        self.move_timeout = move_timeout
        self._replays = _Replays()

    def axis(self, number: int) -> Axis:
        return self.driver.axis(number)

    def readings(self) -> dict[str, Reading]:
        def reader(axis: Axis) -> Callable[[], Sample]:
            return lambda: Sample(self.run("position", lambda: axis.position))

        return {
            f"{self.name}.axis{n}.position": Reading(reader(a)) for n, a in self.driver.axes.items()
        }

    def setup(self) -> None:
        drained = self.driver.clear_errors()  # an old error must not be blamed on a new command
        if drained:
            log.warning(
                "errors left in the ESP300's queue at connect", instrument=self.name, codes=drained
            )
        self.identity = self.driver.identify()
        for note in self.driver.narrow_limits():
            log.warning(
                "travel narrowed to the controller's limits", instrument=self.name, note=note
            )

    def probe(self) -> None:
        self.driver.identify()
        drained = self.driver.clear_errors()
        if drained:
            log.warning("errors drained while recovering", instrument=self.name, codes=drained)

    def safe_state(self) -> None:
        self.driver.abort()

    def poll(self) -> dict[str, Any]:
        return {
            f"axis{n}": {"position": axis.position, "motion_done": axis.motion_done}
            for n, axis in self.driver.axes.items()
        }

    def settings(self) -> dict[str, Any]:
        axes: dict[str, Any] = {}
        for n, a in self.driver.axes.items():
            entry: dict[str, Any] = {"limits": list(a.travel)}
            try:
                entry["position"] = self.run("position", lambda a=a: a.position)  # type: ignore[misc]
            except InstrumentFault as exc:
                entry["position"] = None
                entry["error"] = str(exc)
            axes[f"axis{n}"] = entry
        return {**super().settings(), "axes": axes, "position_query": self.driver.position_query}

    # --- commands -----------------------------------------------------------------------

    def state(self, number: int) -> AxisState:
        axis = self.axis(number)
        return self.run(
            "state",
            lambda: AxisState(number, axis.position, axis.motion_done, axis.desired_position),
        )

    def move(
        self,
        number: int,
        position: float,
        *,
        relative: bool = False,
        wait: bool = False,
        request_id: str | None = None,
    ) -> AxisState:
        """Move one axis; checked against its travel before anything is sent. A repeated
        ``request_id`` returns the first result without moving again."""
        axis = self.axis(number)
        if relative:
            axis.check_distance(position)
        else:
            axis.check_target(position)

        def go() -> AxisState:
            target = axis.move_by(position) if relative else axis.move_to(position)
            if wait:
                axis.wait_until_stopped(self.move_timeout)
            return AxisState(number, axis.position, axis.motion_done, target)

        what = f"{self.name} axis {number} {'by' if relative else 'to'} {position:g}"
        return self._replays.run(request_id, what, lambda: self.run("move", go))

    def home(self, number: int, mode: int = 0) -> None:
        axis = self.axis(number)
        if isinstance(mode, bool) or mode not in range(7):
            raise ValueRefused(f"home search mode must be 0 to 6, got {mode!r}")
        self.run("home", lambda: axis.home(mode))

    def stop_axis(self, number: int) -> None:
        axis = self.axis(number)
        self.run("stop", axis.stop)

    def set_motion(self, number: int, velocity: float | None, acceleration: float | None) -> None:
        axis = self.axis(number)
        axis.check_motion(velocity, acceleration)
        self.run("motion", lambda: axis.set_motion(velocity, acceleration))

    def abort(self) -> None:
        self.run("abort", self.driver.abort)


class PowerMeter(Instrument):
    kind = "pm1830c"

    def __init__(
        self, name: str, link: Link, metrics: DaqMetrics, driver: MeterDriver, units: str
    ) -> None:
        super().__init__(name, link, metrics)
        self.driver = driver
        self.units = units
        self.wavelength_nm: int | None = None
        """The calibration wavelength as last read or set: the probe checks the meter says so."""

    def _sample(self) -> Sample:
        reading = self.driver.reading()
        flags = tuple(reading.flags)
        for flag in flags:
            self.metrics.flagged.labels(reading=f"{self.name}.power", flag=flag).inc()
        return Sample(reading.value, flags, reading.status)

    def readings(self) -> dict[str, Reading]:
        return {
            f"{self.name}.power": Reading(
                lambda: self.run("power", self._sample), self.units, has_status=True
            )
        }

    def setup(self) -> None:
        self.driver.echo_off()  # a meter left echoing would put the command before each answer
        # unit numbering differs between sources: always set it, never trust the front panel
        self.driver.set_units(self.units)
        self.driver.clear_status()
        self.wavelength_nm = self.driver.read_wavelength()
        self.identity = "Newport 1830-C (no identity query)"

    def probe(self) -> None:
        """``W?`` must answer the wavelength the meter is set to. A different answer twice
        in a row is a wavelength changed on the front panel, not a reply out of step: it is
        taken (and logged), so the meter does not stay down for good."""
        wavelength = self.driver.read_wavelength()
        if self.wavelength_nm is not None and wavelength != self.wavelength_nm:
            again = self.driver.read_wavelength()
            if again != wavelength:
                raise BadReply(
                    f"{self.name}: W? answered {wavelength} then {again}, the meter is set to "
                    f"{self.wavelength_nm}"
                )
            log.warning(
                "the meter's wavelength changed behind the daemon",
                instrument=self.name,
                was=self.wavelength_nm,
                now=wavelength,
            )
        self.wavelength_nm = wavelength

    def poll(self) -> dict[str, Any]:
        sample = self._sample()
        return {
            "power": sample.value,
            "units": self.units,
            "flags": list(sample.flags),
            "wavelength_nm": self.driver.read_wavelength(),
        }

    def settings(self) -> dict[str, Any]:
        base = {**super().settings(), "units": self.units, "unit_codes": self.driver.unit_codes}
        try:
            base.update(self.run("settings", self.driver.read_settings))
        except InstrumentFault as exc:
            base["error"] = str(exc)
        return base

    def state(self) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            sample = self._sample()
            return {
                "power": sample.value,
                "flags": list(sample.flags),
                "status_byte": sample.status,
                "units": self.units,
                **self.driver.read_settings(),
            }

        return self.run("state", read)

    def configure(self, changes: dict[str, object]) -> None:
        """Change settings; every value is checked before the first byte of any is sent."""
        changes = {k: v for k, v in changes.items() if v is not None}
        self.driver.check_settings(changes)

        def apply() -> None:
            self.driver.apply_settings(changes)
            if "units" in changes:
                self.units = str(changes["units"])
            if "wavelength" in changes:
                self.wavelength_nm = int(changes["wavelength"])  # type: ignore[call-overload]

        self.run("settings", apply)

    def set_zero(self, on: bool) -> None:
        self.run("zero", lambda: self.driver.set_zero(on))

    def store_reference(self) -> None:
        """The current reading becomes the reference of the dB and REL units."""
        self.run("reference", self.driver.store_reference)


class Laser(Instrument):
    """The MaiTai, with its start sequence and its watchdog fed by a thread of its own.

    Start: from cold, ``ON`` starts the warm-up; once warm, ``ON`` (shutter closed) starts
    emission. :meth:`request_emission` runs that sequence; the laser's own thread finishes
    it when the warm-up reaches 100 %. The same thread keeps the laser's watchdog fed with a
    cheap query, so no long operation elsewhere (a slow ELL14 move, a scan) can starve it:
    if the daemon dies, the laser switches its pump off by itself.
    """

    kind = "maitai"

    def __init__(
        self,
        name: str,
        link: Link,
        metrics: DaqMetrics,
        driver: LaserDriver,
        *,
        interlock_closed: bool,
        watchdog_s: int,
        feed_interval_s: float | None = None,
    ) -> None:
        super().__init__(name, link, metrics)
        self.driver = driver
        self.interlock_closed = interlock_closed
        self.watchdog_s = watchdog_s
        self.feed_interval_s = feed_interval_s or (watchdog_s / 4 if watchdog_s else 1.0)
        self.emission_requested = False
        self.last_fed: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        metrics.watchdog_timeout.labels(instrument=name).set(watchdog_s)

    def readings(self) -> dict[str, Reading]:
        return {
            f"{self.name}.power": Reading(
                lambda: Sample(self.run("power", self.driver.read_power)), "W"
            ),
            f"{self.name}.wavelength": Reading(
                lambda: Sample(self.run("wavelength", self.driver.read_wavelength)), "nm"
            ),
        }

    def setup(self) -> None:
        drained = self.driver.clear_errors()
        if drained:
            log.warning(
                "errors left in the laser's queue at connect", instrument=self.name, errors=drained
            )
        self.identity = self.driver.identify()
        self.driver.narrow_range()

    def probe(self) -> None:
        self.driver.identify()

    def safe_state(self) -> None:
        self.driver.set_shutter(False)

    def phase(self, warmup: float, emission: bool) -> str:
        if emission:
            return "emitting"
        if warmup <= 0:
            return "cold"
        return "warming" if warmup < 100 else "warm"

    def poll(self) -> dict[str, Any]:
        status = self.driver.read_status()
        warmup = self.driver.read_warmup()
        return {
            "phase": self.phase(warmup, status.emission),
            "warmup_percent": warmup,
            "emission": status.emission,
            "modelocked": status.modelocked,
            "emission_requested": self.emission_requested,
            "shutter_open": self.driver.read_shutter(),
            "wavelength_nm": self.driver.read_wavelength(),
            "power_w": self.driver.read_power(),
        }

    def state(self) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            detail = self.poll()
            detail["commanded_wavelength_nm"] = self.driver.read_commanded_wavelength()
            detail["interlock_closed"] = self.interlock_closed
            detail["watchdog_s"] = self.watchdog_s
            return detail

        return self.run("state", read)

    def settings(self) -> dict[str, Any]:
        base = {
            **super().settings(),
            "wavelength_range": list(self.driver.wavelength_range),
            "watchdog_s": self.watchdog_s,
        }
        try:
            detail = self.run("settings", self.poll)
            base.update(
                {
                    k: detail[k]
                    for k in ("wavelength_nm", "shutter_open", "emission", "warmup_percent")
                }
            )
        except InstrumentFault as exc:
            base["error"] = str(exc)
        return base

    def check_allowed(self, confirm: bool, what: str) -> None:
        if not self.interlock_closed:
            raise SafetyRefused(
                f"{what} refused: the laser interlock setting "
                "(safety.laser_interlock_closed) is not set"
            )
        if confirm is not True:
            raise SafetyRefused(f"{what} needs explicit confirmation (confirm: true)")

    def request_emission(self, confirm: bool) -> str:
        """Start emission, from cold if need be. Returns the phase reached: ``emitting``
        now, or ``warming`` (emission follows when warm, by the laser's own thread)."""
        self.check_allowed(confirm, "emission")

        def start() -> str:
            if self.driver.read_shutter():
                raise SafetyRefused("emission refused: the shutter is open (close it first)")
            warmup = self.driver.read_warmup()
            if warmup <= 0:
                self.driver.start_warmup()
                self.emission_requested = True
                return "warming"
            if warmup < 100:
                self.emission_requested = True
                return "warming"
            self._switch_on()
            return "emitting"

        return self.run("emission_on", start)

    def _switch_on(self) -> None:
        if self.watchdog_s:
            self.driver.set_watchdog(self.watchdog_s)
            self.last_fed = time.time()
            self.metrics.watchdog_fed.labels(instrument=self.name).set(self.last_fed)
        self.driver.emission_on()
        self.emission_requested = False

    def emission_off(self) -> None:
        self.emission_requested = False
        self.run("emission_off", self.driver.emission_off)

    def set_shutter(self, open_: bool, confirm: bool) -> None:
        if open_:
            self.check_allowed(confirm, "opening the shutter")
        self.run("shutter", lambda: self.driver.set_shutter(open_))

    def set_wavelength(self, nm: int) -> None:
        self.run("wavelength", lambda: self.driver.set_wavelength(nm))

    # --- the laser's own thread -------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"{self.name} watchdog", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def feed_once(self) -> None:
        """One turn of the laser's thread: a query that feeds the watchdog, and the end of
        a pending start once the warm-up is complete."""

        if not (self.watchdog_s or self.emission_requested):
            return  # no watchdog to feed and nothing pending: keep off the line

        def turn() -> None:
            status = self.driver.read_status()
            self.last_fed = time.time()
            self.metrics.watchdog_fed.labels(instrument=self.name).set(self.last_fed)
            pending = self.emission_requested and not status.emission
            if pending and self.driver.read_warmup() >= 100:
                if self.driver.read_shutter():
                    self.emission_requested = False
                    log.error(
                        "pending emission cancelled: the shutter is open", instrument=self.name
                    )
                    return
                log.info("warm: switching emission on as requested", instrument=self.name)
                self._switch_on()

        self.run("watchdog", turn)

    def _loop(self) -> None:
        while not self._stop.wait(self.feed_interval_s):
            try:
                self.feed_once()
            except (InstrumentFault, NotReady, SafetyRefused) as exc:
                log.warning("laser thread: exchange failed", instrument=self.name, error=str(exc))


@dataclass(frozen=True)
class MountState:
    name: str
    address: str
    angle_deg: float
    status: int
    status_text: str
    serial: str | None
    pulses_per_revolution: int | None
    velocity_percent: int | None = None


class MountBus(Instrument):
    kind = "ell14"

    def __init__(
        self,
        name: str,
        link: Link,
        metrics: DaqMetrics,
        mounts: dict[str, MountDriver],
        describe_status: Callable[[int], str] = str,
    ) -> None:
        super().__init__(name, link, metrics)
        self.mounts = mounts
        self.describe_status = describe_status
        self._replays = _Replays()

    def mount(self, name: str) -> MountDriver:
        if name not in self.mounts:
            raise UnknownInstrument(name, "ell14 mount", list(self.mounts))
        return self.mounts[name]

    def readings(self) -> dict[str, Reading]:
        def reader(mount: MountDriver) -> Callable[[], Sample]:
            return lambda: Sample(self.run("angle", lambda: mount.angle))

        return {
            f"{name}.angle": Reading(reader(mount), "deg") for name, mount in self.mounts.items()
        }

    def setup(self) -> None:
        serials = []
        for name, mount in self.mounts.items():
            info = mount.identify()
            serials.append(f"{name}: ELL14 serial {info.serial}")
        self.identity = "; ".join(serials)

    def probe(self) -> None:
        # a mount whose move outlasted its timeout is still busy: wait for it to finish (its
        # late reply is dropped on the way) before trusting the bus again
        for mount in self.mounts.values():
            mount.wait_idle(mount.move_timeout)

    def poll(self) -> dict[str, Any]:
        result = {}
        for name, m in self.mounts.items():
            status = m.status()
            result[name] = {
                "address": m.address,
                "angle": m.angle,
                "status": status,
                "status_text": self.describe_status(status),
            }
        return result

    def safe_state(self) -> None:
        for mount in self.mounts.values():
            mount.stop()

    def settings(self) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for name, m in self.mounts.items():
            entry: dict[str, Any] = {
                "address": m.address,
                "serial": m.info.serial if m.info else None,
                "pulses_per_revolution": m.info.pulses_per_unit if m.info else None,
            }
            try:
                entry["angle"] = self.run("angle", lambda m=m: m.angle)  # type: ignore[misc]
            except InstrumentFault as exc:
                entry["angle"] = None
                entry["error"] = str(exc)
            info[name] = entry
        return {**super().settings(), "mounts": info}

    # --- commands -----------------------------------------------------------------------

    def state(self, name: str, angle: float | None = None) -> MountState:
        mount = self.mount(name)

        def read() -> MountState:
            status = mount.status()
            return MountState(
                name=name,
                address=mount.address,
                angle_deg=mount.angle if angle is None else angle,
                status=status,
                status_text=self.describe_status(status),
                serial=mount.info.serial if mount.info else None,
                pulses_per_revolution=mount.info.pulses_per_unit if mount.info else None,
                velocity_percent=mount.read_velocity(),
            )

        return self.run("state", read)

    def travel(self, name: str) -> float:
        mount = self.mount(name)
        return float(mount.info.travel) if mount.info else 360.0

    def check_angle(self, name: str, angle: float, relative: bool = False) -> None:
        travel = self.travel(name)
        low = -travel if relative else 0.0
        self.mount(name).check_degrees(
            angle, low, travel, "relative angle" if relative else "angle"
        )

    def move(
        self, name: str, angle: float, *, relative: bool = False, request_id: str | None = None
    ) -> MountState:
        mount = self.mount(name)
        self.check_angle(name, angle, relative)
        what = f"{name} {'by' if relative else 'to'} {angle:g}"

        def go() -> float:
            return mount.move_by(angle) if relative else mount.move_to(angle)

        reached = self._replays.run(request_id, what, lambda: self.run("move", go))
        return self.state(name, reached)

    def home(self, name: str, clockwise: bool = True) -> MountState:
        mount = self.mount(name)
        return self.state(name, self.run("home", lambda: mount.home(clockwise)))

    def stop_mount(self, name: str) -> None:
        mount = self.mount(name)
        self.run("stop", mount.stop)

    def jog(self, name: str, forward: bool, step_deg: float | None) -> MountState:
        mount = self.mount(name)
        if step_deg is not None:
            mount.check_degrees(step_deg, 0, self.travel(name), "jog step")

        def jog() -> float:
            if step_deg is not None:
                mount.set_jog_step(step_deg)
            return mount.jog(forward)

        return self.state(name, self.run("jog", jog))

    def set_velocity(self, name: str, percent: int) -> None:
        mount = self.mount(name)
        mount.check_velocity(percent)
        self.run("velocity", lambda: mount.set_velocity(percent))
