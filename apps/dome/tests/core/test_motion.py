"""Properties of the pure motion profile (hypothesis), on ideal kinematics."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dome.core.motion import (
    MotionLimits,
    position_velocity,
    ramp,
    stopping_distance,
    travel_time,
)

limits_st = st.builds(
    MotionLimits,
    max_speed_deg_s=st.floats(0.5, 20),
    acceleration_deg_s2=st.floats(0.5, 40),
    creep_speed_deg_s=st.floats(0.05, 0.5),
)


@given(limits_st, st.floats(-20, 20), st.floats(-400, 400), st.floats(0.001, 0.06))
def test_one_period_never_exceeds_the_limits(
    lim: MotionLimits, v: float, remaining: float, dt: float
) -> None:
    v = max(-lim.max_speed_deg_s, min(lim.max_speed_deg_s, v))
    v_new = position_velocity(v, remaining, dt, lim, 0.35)
    assert abs(v_new) <= lim.max_speed_deg_s + 1e-9
    assert abs(v_new - v) <= lim.acceleration_deg_s2 * dt + 1e-9


@given(limits_st, st.floats(-400, 400).filter(lambda r: abs(r) > 1e-6), st.floats(0.001, 0.06))
def test_from_rest_it_never_starts_away_from_the_target(
    lim: MotionLimits, remaining: float, dt: float
) -> None:
    v_new = position_velocity(0.0, remaining, dt, lim, 0.35)
    assert v_new * remaining > 0


@settings(max_examples=200, deadline=None)
@given(limits_st, st.floats(0.5, 360), st.floats(0.005, 0.03))
def test_a_move_from_rest_arrives_without_overshoot_in_the_time_it_predicts(
    lim: MotionLimits, distance: float, dt: float
) -> None:
    """Ideal kinematics (the position integrates the commanded velocity): the move ends
    within the stop zone, overshoots by at most one period at creep speed (plus the one
    acceleration step the discrete ramp may still be above it), and takes no longer
    than :func:`travel_time` plus a few periods."""
    zone = lim.creep_speed_deg_s * dt
    assume(distance > 2 * zone)
    x, v, t = 0.0, 0.0, 0.0
    furthest = 0.0
    while abs(distance - x) > zone:
        v = position_velocity(v, distance - x, dt, lim, zone)
        x += v * dt
        t += dt
        furthest = max(furthest, x)
        assert t < 10 * travel_time(distance, lim) + 10, "never arrives"
    last_step = (lim.creep_speed_deg_s + lim.acceleration_deg_s2 * dt) * dt
    assert furthest <= distance + last_step + 1e-9
    assert t <= travel_time(distance, lim) + 5 * dt + 1e-6


@given(st.floats(-20, 20), st.floats(0.5, 40))
def test_stopping_distance_is_what_braking_covers(v: float, a: float) -> None:
    d = stopping_distance(v, a)
    assert d * v >= 0
    assert abs(d) == pytest.approx(v * v / (2 * a))


@given(st.floats(-20, 20), st.floats(-20, 20), st.floats(0.001, 0.1), st.floats(0.1, 40))
def test_ramp_moves_towards_the_target_by_at_most_a_dt(
    v: float, target: float, dt: float, a: float
) -> None:
    out = ramp(v, target, dt, a)
    assert abs(out - v) <= a * dt + 1e-9
    assert abs(target - out) <= abs(target - v) + 1e-9
    if abs(target - v) <= a * dt:
        assert out == pytest.approx(target, abs=1e-9)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="creep"):
        MotionLimits(1.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="positive"):
        MotionLimits(math.nan, 1.0, 0.1)
