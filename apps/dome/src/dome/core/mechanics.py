"""The dome's mechanics, motion limits and safety thresholds, as the control loop needs
them."""

from __future__ import annotations

from dataclasses import dataclass

from dome.core.motion import MotionLimits


@dataclass(frozen=True)
class Mechanics:
    motor_steps_per_rev: int = 200
    microsteps: int = 8
    motor_turns_per_dome_turn: float = 200.0
    # any ratio: the observatory's encoder rides a 50 mm wheel on a 2303 mm ring (46.06)
    encoder_turns_per_dome_turn: float = 1.0
    encoder_counts_per_turn: int = 1024
    # DIR high turns the dome clockwise unless the motor is wired the other way
    motor_reversed: bool = False
    # the encoder counts up clockwise unless it is mounted the other way
    encoder_reversed: bool = False
    max_speed_deg_s: float = 6.0
    acceleration_deg_s2: float = 6.0
    creep_speed_deg_s: float = 0.5
    # the motor may turn the dome this far (dome degrees) with the encoder still
    stall_deg: float = 0.7
    bad_frames_to_fault: int = 10
    settle_s: float = 0.25
    settle_retries: int = 5
    tick_hz: float = 50.0
    # continuous rotation runs only while renewed within this time
    deadman_s: float = 1.5
    # runaway: the encoder going the wrong way by this much while the motor turns ...
    wrong_way_deg: float = 1.0
    # ... or the position error growing by this much while moving towards the target ...
    error_growth_deg: float = 2.0
    # ... or a slew taking longer than factor x expected + margin
    slew_time_factor: float = 1.5
    slew_time_margin_s: float = 10.0
    home_search_speed_deg_s: float = 2.0
    home_search_direction: int = 1

    def __post_init__(self) -> None:
        for name in (
            "max_speed_deg_s",
            "acceleration_deg_s2",
            "creep_speed_deg_s",
            "tick_hz",
            "encoder_turns_per_dome_turn",
            "stall_deg",
            "deadman_s",
            "home_search_speed_deg_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.creep_speed_deg_s > self.max_speed_deg_s:
            raise ValueError("creep_speed_deg_s must not exceed max_speed_deg_s")
        if self.stall_deg < 1.5 * self.deg_per_count:
            raise ValueError(
                f"stall_deg must be at least 1.5 encoder counts ({1.5 * self.deg_per_count:.3f}"
                " dome degrees): a smaller motion cannot show on the encoder"
            )
        if self.home_search_direction not in (1, -1):
            raise ValueError("home_search_direction must be +1 or -1")

    @property
    def limits(self) -> MotionLimits:
        return MotionLimits(self.max_speed_deg_s, self.acceleration_deg_s2, self.creep_speed_deg_s)

    @property
    def steps_per_dome_turn(self) -> int:
        return round(self.motor_steps_per_rev * self.microsteps * self.motor_turns_per_dome_turn)

    @property
    def steps_per_deg(self) -> float:
        return self.steps_per_dome_turn / 360.0

    @property
    def counts_per_dome_turn(self) -> float:
        return self.encoder_counts_per_turn * self.encoder_turns_per_dome_turn

    @property
    def deg_per_count(self) -> float:
        return 360.0 / self.counts_per_dome_turn

    @property
    def absolute(self) -> bool:
        """One encoder turn per dome turn: its reading alone says where the dome is."""
        return self.encoder_turns_per_dome_turn == 1.0

    @property
    def motor_sign(self) -> int:
        return -1 if self.motor_reversed else 1

    @property
    def period(self) -> float:
        return 1.0 / self.tick_hz
