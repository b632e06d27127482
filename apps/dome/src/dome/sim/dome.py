"""A simulated dome: step pulses in (from :class:`~dome.sim.lgpio.SimLgpio`), encoder
frames out (through :class:`SimSpiDev`), and a home switch.

The physics is advanced lazily to the clock's "now" whenever anything is read, so the
same model runs on the wall clock (``dome serve --sim``) and on a test's simulated
clock. Model: the DM556T turns the motor one step per rising edge of STEP, the way the
DIR line says at that edge (a ``motor_reversed`` dome turns the other way); the drive
moves the dome through a little backlash and slip, with inertia (a first-order lag);
the EMS22A on its wheel (``encoder_turns_per_dome_turn`` wheel turns per dome turn, any
ratio) is quantised to 1024 counts per turn and may count the opposite way
(``encoder_reversed``). The home switch is a cam of ``home_width_deg`` that pulls its
input low (as the observatory's SS-5GL microswitch does) around ``home_deg``.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from dome.hardware.encoder import COUNTS_PER_TURN, LEADING_BITS, build_frame
from dome.sim.lgpio import SimLgpio

_SUBSTEP = 0.002


@dataclass
class SimFaults:
    """Faults that can be switched on and off while the simulation runs."""

    stuck_encoder: bool = False
    parity_error_rate: float = 0.0
    cordic_overflow: bool = False
    linearity_alarm: bool = False
    stalled_motor: bool = False
    spi_error: bool = False

    def update(self, **changes: Any) -> None:
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:
                raise ValueError(f"unknown simulator fault {name!r}")
            if name == "parity_error_rate":
                rate = float(value)
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"parity_error_rate must be 0..1, got {value!r}")
                self.parity_error_rate = rate
            else:
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false, got {value!r}")
                setattr(self, name, value)


@dataclass(frozen=True)
class SimMechanics:
    steps_per_dome_turn: int
    encoder_turns_per_dome_turn: float = 1.0
    backlash_deg: float = 0.1
    slip_fraction: float = 0.002
    inertia_s: float = 0.02
    encoder_offset_counts: int = 0
    motor_reversed: bool = False
    encoder_reversed: bool = False
    home_deg: float | None = None
    home_width_deg: float = 2.0


@dataclass
class SimDome:
    mechanics: SimMechanics
    clock: Callable[[], float]
    lg: SimLgpio
    dir_gpio: int = 17
    step_gpio: int = 18
    home_gpio: int | None = None
    dome_deg: float = 0.0
    faults: SimFaults = field(default_factory=SimFaults)
    seed: int = 1

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._rng = random.Random(self.seed)  # noqa: S311 - physics noise, not secrets
        self._t = self.clock()
        self._emitted = 0
        self._drive_deg = self.dome_deg
        self._follow_deg = self.dome_deg  # the backlash's output side
        self._stuck_word: int | None = None
        self._deg_per_step = 360.0 / self.mechanics.steps_per_dome_turn
        self.frames_sent = 0
        self.lg.watch_dir(self.dir_gpio, self.step_gpio)
        if self.home_gpio is not None:
            self.lg.attach_input(self.home_gpio, self.home_level)

    # --- physics --------------------------------------------------------------------
    def advance(self) -> None:
        with self._lock:
            now = self.clock()
            dt = now - self._t
            if dt <= 0:
                return
            at_rest = (
                abs(self._follow_deg - self.dome_deg) < 1e-9
                and abs(self._drive_deg - self._follow_deg) <= self.mechanics.backlash_deg / 2
            )
            if at_rest and self.lg.quiet(self.step_gpio):
                self._t = now  # no pulses and nothing moving: nothing to integrate
                return
            n = max(1, math.ceil(dt / _SUBSTEP))
            h = dt / n
            for i in range(1, n + 1):
                self._substep(self._t + i * h, h)
            self._t = now

    def _substep(self, until: float, h: float) -> None:
        for at_us, count in self.lg.take_edges(self.step_gpio, until):
            level = self.lg.dir_level_at(self.dir_gpio, at_us)
            direction = 1 if level else -1
            if self.mechanics.motor_reversed:
                direction = -direction
            self._emit(direction * count)
        if (
            abs(self._follow_deg - self.dome_deg) < 1e-9
            and abs(self._drive_deg - self._follow_deg) <= self.mechanics.backlash_deg / 2
        ):
            return  # at rest: nothing to integrate
        # backlash: the follower moves only once the drive has taken up the play
        half = self.mechanics.backlash_deg / 2
        gap = self._drive_deg - self._follow_deg
        if gap > half:
            self._follow_deg = self._drive_deg - half
        elif gap < -half:
            self._follow_deg = self._drive_deg + half
        # inertia: the dome lags the drive and coasts a little when it stops
        alpha = 1.0 - math.exp(-h / self.mechanics.inertia_s) if self.mechanics.inertia_s else 1.0
        self.dome_deg += (self._follow_deg - self.dome_deg) * alpha

    def _emit(self, steps: int) -> None:
        if steps == 0:
            return
        self._emitted += steps
        if self.faults.stalled_motor:
            return
        slip = 1.0 - self.mechanics.slip_fraction * (0.5 + self._rng.random())
        self._drive_deg += steps * self._deg_per_step * slip

    # --- the encoder and the home switch --------------------------------------------
    def encoder_counts(self) -> int:
        m = self.mechanics
        turns = self.dome_deg / 360.0 * m.encoder_turns_per_dome_turn
        counts = math.floor(turns * COUNTS_PER_TURN + 0.5) + m.encoder_offset_counts
        if m.encoder_reversed:
            counts = -counts
        return counts % COUNTS_PER_TURN

    def read_word(self) -> int:
        with self._lock:
            self.advance()
            self.frames_sent += 1
            f = self.faults
            if f.stuck_encoder:
                if self._stuck_word is None:
                    self._stuck_word = build_frame(self.encoder_counts())
                return self._stuck_word
            self._stuck_word = None
            corrupt = f.parity_error_rate > 0 and self._rng.random() < f.parity_error_rate
            return build_frame(
                self.encoder_counts(),
                cordic_overflow=f.cordic_overflow,
                linearity_alarm=f.linearity_alarm,
                corrupt_parity=corrupt,
            )

    def at_home_switch(self) -> bool:
        m = self.mechanics
        if m.home_deg is None:
            return False
        off = (self.dome_deg - m.home_deg + 180.0) % 360.0 - 180.0
        return abs(off) <= m.home_width_deg / 2

    def home_level(self) -> int:
        """The switch input's level: pulled low while the cam presses it."""
        with self._lock:
            self.advance()
            return 0 if self.at_home_switch() else 1

    # --- inspection -----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self.advance()
            return {
                "dome_deg": self.dome_deg % 360.0,
                "drive_deg": self._drive_deg,
                "busy": bool(self.lg.tx_busy(0, self.step_gpio, 0)),
                "emitted_steps": self._emitted,
                "encoder_counts": self.encoder_counts(),
                "dir_changes_while_busy": self.lg.dir_changes_while_busy,
                "faults": asdict(self.faults),
            }


class SimSpiDev:
    """The EMS22A as spidev sees it: ``xfer2`` clocks out the frame of the simulated
    dome, preceded by the leading bits the configured SPI mode gives (see
    :data:`dome.hardware.encoder.LEADING_BITS`); the bits after the frame are the
    daisy-chain input, left low."""

    def __init__(self, dome: SimDome, mode: int) -> None:
        self._dome = dome
        self.mode = mode
        self.closed = False

    def xfer2(self, data: list[int]) -> list[int]:
        if self._dome.faults.spi_error:
            raise OSError(5, "simulated SPI transfer error")
        n = len(data) * 8
        word = self._dome.read_word()
        shifted = word << (n - 16 - LEADING_BITS.get(self.mode, 1))
        return [(shifted >> (8 * (len(data) - 1 - i))) & 0xFF for i in range(len(data))]

    def close(self) -> None:
        self.closed = True
