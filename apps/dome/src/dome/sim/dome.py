"""A simulated dome: step pulses in, encoder frames out.

The physics is advanced lazily to the clock's "now" whenever the stepper or encoder is
touched, so the same model runs on the wall clock (``dome serve --sim``) and on a test's
simulated clock. Model: motor steps through the gearing move the drive; the dome follows
the drive through a little backlash and slip, with inertia (a first-order lag); the
encoder on the dome ring is quantised to 1024 counts per encoder turn.
"""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from dome.hardware.encoder import COUNTS_PER_TURN, build_frame
from dome.hardware.stepper import DirectionChangeError, Segment

_SUBSTEP = 0.002


@dataclass
class SimFaults:
    """Faults that can be switched on and off while the simulation runs."""

    stuck_encoder: bool = False
    parity_error_rate: float = 0.0
    cordic_overflow: bool = False
    linearity_alarm: bool = False
    stalled_motor: bool = False

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
    encoder_turns_per_dome_turn: int = 1
    backlash_deg: float = 0.1
    slip_fraction: float = 0.002
    inertia_s: float = 0.02
    encoder_offset_counts: int = 0


@dataclass
class SimDome:
    mechanics: SimMechanics
    clock: Callable[[], float]
    dome_deg: float = 0.0
    faults: SimFaults = field(default_factory=SimFaults)
    seed: int = 1

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._rng = random.Random(self.seed)  # noqa: S311 - physics noise, not secrets
        self._t = self.clock()
        self._queue: deque[list[Any]] = deque()  # [segment, steps_left, fraction]
        self._emitted = 0
        self._drive_deg = self.dome_deg
        self._follow_deg = self.dome_deg  # the backlash's output side
        self._stuck_word: int | None = None
        self._deg_per_step = 360.0 / self.mechanics.steps_per_dome_turn
        self.frames_sent = 0

    # --- physics --------------------------------------------------------------------
    def advance(self) -> None:
        with self._lock:
            now = self.clock()
            dt = now - self._t
            if dt <= 0:
                return
            self._t = now
            if not self._queue and abs(self._follow_deg - self.dome_deg) < 1e-9:
                return  # at rest: nothing to integrate
            steps_n = max(1, math.ceil(dt / _SUBSTEP))
            h = dt / steps_n
            for _ in range(steps_n):
                self._substep(h)

    def _substep(self, h: float) -> None:
        budget = h
        while self._queue and budget > 0:
            item = self._queue[0]
            segment: Segment = item[0]
            exact = segment.rate_hz * budget + item[2]
            n = min(int(exact), item[1])
            item[2] = exact - n if n < item[1] else 0.0
            used = n / segment.rate_hz if n == item[1] else budget
            item[1] -= n
            self._emit(segment.direction * n)
            budget -= used
            if item[1] == 0:
                self._queue.popleft()
            else:
                break
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

    # --- the stepper side -----------------------------------------------------------
    def queue(self, segment: Segment) -> None:
        with self._lock:
            self.advance()
            if self._queue and self._queue[-1][0].direction != segment.direction:
                raise DirectionChangeError("queued pulses still going out")
            self._queue.append([segment, segment.steps, 0.0])

    def pending_steps(self) -> int:
        with self._lock:
            self.advance()
            return sum(int(item[1]) for item in self._queue)

    def emitted_steps(self) -> int:
        with self._lock:
            self.advance()
            return self._emitted

    def flush(self) -> None:
        with self._lock:
            self.advance()
            self._queue.clear()

    # --- the encoder side -----------------------------------------------------------
    def encoder_counts(self) -> int:
        m = self.mechanics
        turns = self.dome_deg / 360.0 * m.encoder_turns_per_dome_turn
        return (math.floor(turns * COUNTS_PER_TURN + 0.5) + m.encoder_offset_counts) % (
            COUNTS_PER_TURN
        )

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

    def close(self) -> None:
        self.flush()

    # --- inspection -----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self.advance()
            return {
                "dome_deg": self.dome_deg % 360.0,
                "drive_deg": self._drive_deg,
                "pending_steps": sum(int(item[1]) for item in self._queue),
                "emitted_steps": self._emitted,
                "encoder_counts": self.encoder_counts(),
                "faults": asdict(self.faults),
            }


class SimStepper:
    """The simulated dome seen through the :class:`~dome.hardware.stepper.Stepper` interface."""

    def __init__(self, dome: SimDome) -> None:
        self._dome = dome

    def queue(self, segment: Segment) -> None:
        self._dome.queue(segment)

    def pending_steps(self) -> int:
        return self._dome.pending_steps()

    def emitted_steps(self) -> int:
        return self._dome.emitted_steps()

    def flush(self) -> None:
        self._dome.flush()

    def close(self) -> None:
        self._dome.close()


class SimEncoder:
    """The simulated dome seen through the :class:`~dome.hardware.encoder.Encoder` interface."""

    def __init__(self, dome: SimDome) -> None:
        self._dome = dome

    def read_word(self) -> int:
        return self._dome.read_word()

    def close(self) -> None:
        pass
