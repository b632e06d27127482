"""Safety checks on every good encoder frame: stall and runaway. Each returns the fault
text (naming the cause) or ``None``; the controller stops the motor on any of them.

Positions are machine angles (dome degrees, not wrapped); "motor" positions are the
steps the pulse engine has sent, converted to dome degrees with the motor's sign.
"""

from __future__ import annotations

import math

from dome.core.mechanics import Mechanics


class StallGuard:
    """The motor turned the dome ``stall_deg`` while the encoder did not move."""

    def __init__(self, m: Mechanics) -> None:
        self.m = m
        # the encoder must move this far to count as moving: more than its noise at rest
        self._moved = max(m.stall_deg / 2, m.deg_per_count)
        self._ref_pos: float | None = None
        self._ref_motor = 0.0

    def reset(self) -> None:
        self._ref_pos = None

    def check(self, pos_deg: float, motor_deg: float) -> str | None:
        if self._ref_pos is None or abs(pos_deg - self._ref_pos) >= self._moved:
            self._ref_pos, self._ref_motor = pos_deg, motor_deg
            return None
        turned = abs(motor_deg - self._ref_motor)
        if turned > self.m.stall_deg:
            return (
                f"stall: the motor turned the dome {turned:.2f} deg but the encoder moved"
                f" {abs(pos_deg - self._ref_pos):.2f} deg"
            )
        return None


class RunawayGuard:
    """The dome does not go where the motor drives it: the encoder moves the wrong way,
    the error grows while driving towards the target, or a slew overruns its time."""

    def __init__(self, m: Mechanics) -> None:
        self.m = m
        self._dir = 0
        self._ref_pos = 0.0
        self._ref_motor = 0.0
        self._best: float | None = None
        self._deadline: float | None = None
        self._expected = 0.0
        self._distance = 0.0

    def start_slew(self, now: float, distance_deg: float, expected_s: float) -> None:
        """A new target: its time budget starts now."""
        self._expected = expected_s
        self._distance = abs(distance_deg)
        self._deadline = now + self.m.slew_time_factor * expected_s + self.m.slew_time_margin_s
        self._best = None

    def end_slew(self) -> None:
        self._deadline = None
        self._best = None
        self._dir = 0

    def direction_changed(self, direction: int, pos_deg: float, motor_deg: float) -> None:
        """The motor now turns ``direction``: measure the encoder from here."""
        self._dir = direction
        self._ref_pos, self._ref_motor = pos_deg, motor_deg

    def check(
        self, now: float, pos_deg: float, motor_deg: float, error_deg: float | None, v: float
    ) -> str | None:
        if self._dir:
            motor = motor_deg - self._ref_motor
            moved = pos_deg - self._ref_pos
            if abs(motor) > self.m.wrong_way_deg and moved * math.copysign(1, motor) < -(
                self.m.wrong_way_deg / 2
            ):
                return (
                    f"runaway: the encoder moves the wrong way (motor {motor:+.2f} deg, encoder"
                    f" {moved:+.2f} deg): check DOME_MOTOR_REVERSED and DOME_ENCODER_REVERSED"
                )
        if error_deg is not None:
            if v * error_deg <= 0:
                self._best = None  # braking or reversing: the error may grow for now
            elif self._best is None or abs(error_deg) < self._best:
                self._best = abs(error_deg)
            elif abs(error_deg) > self._best + self.m.error_growth_deg:
                return (
                    f"runaway: the position error grew from {self._best:.2f} to"
                    f" {abs(error_deg):.2f} deg while driving towards the target"
                )
        if self._deadline is not None and now > self._deadline:
            return (
                f"runaway: a slew of {self._distance:.1f} deg is not done after"
                f" {self.m.slew_time_factor * self._expected + self.m.slew_time_margin_s:.0f} s"
                f" (expected {self._expected:.1f} s)"
            )
        return None
