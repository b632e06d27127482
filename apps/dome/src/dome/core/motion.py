"""The motion profile: pure functions of the state, no clock and no hardware.

A move is a trapezoid: accelerate at the limit, cruise at the speed limit, brake so as
to reach creep speed just before the target; the last stretch is crept (creep is within
the motor's start-stop rate, so the final stop needs no ramp). Braking is planned at
``brake_fraction`` of the acceleration limit, so the ramp can always follow the plan
even when the queue and the encoder lag by a period or two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MotionLimits:
    max_speed_deg_s: float
    acceleration_deg_s2: float
    creep_speed_deg_s: float
    brake_fraction: float = 0.8
    # how far ahead braking looks to cover the queue, the encoder's quantisation and the
    # dome's inertia; found with the simulator, generous for real domes
    lookahead_s: float = 0.12

    def __post_init__(self) -> None:
        for name in ("max_speed_deg_s", "acceleration_deg_s2", "creep_speed_deg_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.creep_speed_deg_s > self.max_speed_deg_s:
            raise ValueError("creep_speed_deg_s must not exceed max_speed_deg_s")
        if not 0 < self.brake_fraction <= 1:
            raise ValueError("brake_fraction must be in (0, 1]")


def ramp(v: float, v_target: float, dt: float, acceleration: float) -> float:
    """One period towards ``v_target`` without exceeding ``acceleration``."""
    step = acceleration * dt
    return v + min(max(v_target - v, -step), step)


def position_velocity(
    v: float, remaining_deg: float, dt: float, limits: MotionLimits, creep_zone_deg: float
) -> float:
    """The velocity for the next period of a move with ``remaining_deg`` (signed, + is
    clockwise) still to go, at velocity ``v`` now. ``creep_zone_deg`` is crept."""
    if remaining_deg == 0.0:
        return ramp(v, 0.0, dt, limits.acceleration_deg_s2)
    dist = max(abs(remaining_deg) - creep_zone_deg, 0.0)
    dist = max(dist - abs(v) * limits.lookahead_s, 0.0)
    brake = limits.brake_fraction * limits.acceleration_deg_s2
    speed = min(limits.max_speed_deg_s, math.sqrt(2.0 * brake * dist))
    v_target = math.copysign(max(speed, limits.creep_speed_deg_s), remaining_deg)
    return ramp(v, v_target, dt, limits.acceleration_deg_s2)


def stopping_distance(v: float, acceleration: float) -> float:
    """Signed distance covered while braking from ``v`` to rest."""
    return math.copysign(v * v / (2.0 * acceleration), v) if v else 0.0


def travel_time(distance_deg: float, limits: MotionLimits) -> float:
    """Time of a move of ``distance_deg`` from rest to rest along the profile (braking at
    ``brake_fraction`` of the limit) plus the creep over the last ``lookahead``."""
    d = abs(distance_deg)
    a_up = limits.acceleration_deg_s2
    a_down = limits.brake_fraction * limits.acceleration_deg_s2
    v = limits.max_speed_deg_s
    ramps = v * v / (2 * a_up) + v * v / (2 * a_down)
    if d >= ramps:
        moving = v / a_up + v / a_down + (d - ramps) / v
    else:
        v_peak = math.sqrt(2 * d * a_up * a_down / (a_up + a_down))
        moving = v_peak / a_up + v_peak / a_down
    creep = v * limits.lookahead_s / limits.creep_speed_deg_s
    return moving + creep
