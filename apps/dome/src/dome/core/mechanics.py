"""The dome's mechanics and motion limits, as the control loop needs them."""

from __future__ import annotations

from dataclasses import dataclass

from dome.hardware.encoder import COUNTS_PER_TURN


@dataclass(frozen=True)
class Mechanics:
    motor_steps_per_rev: int = 200
    microsteps: int = 8
    motor_turns_per_dome_turn: float = 200.0
    encoder_turns_per_dome_turn: int = 1
    max_speed_deg_s: float = 6.0
    acceleration_deg_s2: float = 6.0
    creep_speed_deg_s: float = 0.5
    stall_counts: float = 2.0
    bad_frames_to_fault: int = 10
    settle_s: float = 0.25
    settle_retries: int = 5
    tick_hz: float = 50.0

    def __post_init__(self) -> None:
        for name in ("max_speed_deg_s", "acceleration_deg_s2", "creep_speed_deg_s", "tick_hz"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.creep_speed_deg_s > self.max_speed_deg_s:
            raise ValueError("creep_speed_deg_s must not exceed max_speed_deg_s")

    @property
    def steps_per_dome_turn(self) -> int:
        return round(self.motor_steps_per_rev * self.microsteps * self.motor_turns_per_dome_turn)

    @property
    def steps_per_deg(self) -> float:
        return self.steps_per_dome_turn / 360.0

    @property
    def counts_per_dome_turn(self) -> int:
        return COUNTS_PER_TURN * self.encoder_turns_per_dome_turn

    @property
    def deg_per_count(self) -> float:
        return 360.0 / self.counts_per_dome_turn

    @property
    def period(self) -> float:
        return 1.0 / self.tick_hz
