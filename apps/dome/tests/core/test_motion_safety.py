"""Motion safety against the simulated dome driven through lgpio's real timing: direction
changes, runaway, deadman, and new targets replacing old ones mid-slew."""

from __future__ import annotations

from typing import Any

import pytest

from dome.core.angles import shortest_delta
from dome.core.controller import State
from dome.core.errors import InvalidStateError
from dome.core.mechanics import Mechanics
from dome.core.ports import Segment
from dome.sim.world import SimWorld

ONE_COUNT = 360 / 1024


def world(start: float = 0.0, **kw: Any) -> SimWorld:
    w = SimWorld(start_deg=start, **kw)
    w.run(0.1)
    return w


def settle(w: SimWorld, timeout: float = 120) -> float:
    return w.run_until(lambda: not w.controller.is_moving(), timeout)


@pytest.mark.parametrize("gap_s", [0.0, 0.02, 0.05, 0.1, 0.3])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_goto_then_the_other_way_a_moment_later_never_crashes(gap_s: float, seed: int) -> None:
    """The sequence that killed the control process on the Pi: lgpio starts the first
    pulses up to 20 ms late, so a clock-based "queue drained" lied and the stepper
    refused the new DIR. Now the controller asks lgpio and waits; DIR never changes
    under queued pulses and the dome ends where the second goto said."""
    w = world(100.0, seed=seed)
    c = w.controller
    c.goto(110.0)
    w.run(gap_s)
    c.goto(90.0)
    settle(w)
    assert c.state is State.IDLE, c.status().fault
    assert w.lg.dir_changes_while_busy == 0
    assert abs(shortest_delta(w.dome.dome_deg, 90.0)) <= ONE_COUNT
    assert c.status().last_outcome == "goto: arrived"


class _Misjudging:
    """The controller's view of the stepper, claiming the queue is empty; the real driver
    behind it still refuses to change DIR under queued pulses."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def busy(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_stepper_refusal_is_waited_out_not_fatal() -> None:
    """Even if the stepper refuses a direction change the controller did not foresee,
    the tick does not raise: it waits at zero speed and tries again."""
    w = world(50.0)
    c = w.controller
    c.move_continuous(1)
    w.run(1.0)
    c.stop()
    while c.status().velocity_deg_s != 0.0:
        w.run(w.mechanics.period)
    w.stepper.queue(Segment(1, 1000.0, 300))  # 0.3 s more clockwise pulses in lgpio
    c._stepper = _Misjudging(w.stepper)  # type: ignore[assignment]
    c.move_continuous(-1)
    refused = 0
    for _ in range(10):
        w.manual.now += w.mechanics.period
        c.tick()  # the driver raises DirectionChangeError inside while it is busy
        refused += c.status().velocity_deg_s == 0.0
    assert refused >= 1
    c._stepper = w.stepper
    for _ in range(4):
        c.move_continuous(-1)
        w.run(0.5)
    assert c.status().velocity_deg_s < 0
    assert w.lg.dir_changes_while_busy == 0


@pytest.mark.parametrize("reversed_part", ["encoder", "motor"])
def test_a_dome_that_turns_the_wrong_way_faults_a_10_degree_goto_within_seconds(
    reversed_part: str,
) -> None:
    """The simulated hardware turns or counts the other way from what the settings say:
    the 10 deg goto stops with a fault naming the cause instead of turning 700 deg."""
    kw = {"encoder_reversed": True} if reversed_part == "encoder" else {"motor_reversed": True}
    w = world(10.0, **kw)
    c = w.controller
    c.goto(20.0)
    took = w.run_until(lambda: c.state is State.FAULT, 30)
    assert took < 3.0
    fault = c.status().fault or ""
    assert "runaway" in fault
    assert "wrong way" in fault
    assert "DOME_ENCODER_REVERSED" in fault
    assert abs(shortest_delta(w.dome.dome_deg, 10.0)) < 5.0
    emitted = w.dome.snapshot()["emitted_steps"]
    w.run(1.0)
    assert w.dome.snapshot()["emitted_steps"] == emitted  # the motor was stopped


def test_the_right_direction_settings_make_the_reversed_dome_work() -> None:
    w = world(
        10.0,
        mechanics=Mechanics(encoder_reversed=True),
        encoder_reversed=True,
    )
    c = w.controller
    c.goto(20.0)
    settle(w)
    assert c.state is State.IDLE
    assert abs(shortest_delta(w.dome.dome_deg, 20.0)) <= ONE_COUNT


def test_a_slew_that_overruns_its_time_is_a_runaway() -> None:
    """A drive that slips badly gets there too slowly: the slew's time budget (from
    distance, speed and acceleration, times a factor plus a margin) runs out."""
    m = Mechanics(slew_time_factor=1.2, slew_time_margin_s=0.0)
    w = world(0.0, mechanics=m, slip_fraction=0.35)
    c = w.controller
    c.goto(120.0)
    w.run_until(lambda: c.state is State.FAULT, 120)
    assert "is not done after" in (c.status().fault or "")


def test_continuous_stops_when_the_deadman_is_not_renewed() -> None:
    w = world(0.0)
    c = w.controller
    assert c.move_continuous(1) == w.mechanics.deadman_s
    w.run(w.mechanics.deadman_s - 0.1)
    assert c.status().velocity_deg_s > 0
    took = w.run_until(lambda: not c.is_moving(), 10)
    # it ran out at deadman_s, then braked from the speed it had
    assert took < 0.2 + w.mechanics.max_speed_deg_s / w.mechanics.acceleration_deg_s2 + 0.3
    assert c.status().last_outcome == "continuous: deadman"
    assert ("deadman", {"azimuth": pytest.approx(c.azimuth(), abs=5)}) in [
        (k, d) for k, d in w.events if k == "deadman"
    ]


def test_renewals_keep_continuous_going_and_the_other_direction_reverses() -> None:
    w = world(0.0)
    c = w.controller
    for _ in range(10):
        c.move_continuous(1)
        w.run(1.0)  # within the 1.5 s deadman
    assert c.status().velocity_deg_s == pytest.approx(w.mechanics.max_speed_deg_s)
    starts = [k for k, _ in w.events].count("motion_started")
    assert starts == 1  # renewals are not new motions
    c.move_continuous(-1)
    for _ in range(6):
        w.run(0.5)
        c.move_continuous(-1)
    assert c.status().velocity_deg_s < 0
    assert w.lg.dir_changes_while_busy == 0


def test_a_new_goto_mid_slew_turns_round_at_once() -> None:
    """At speed towards 90, a goto to 300 (behind) brakes now and turns round; it does
    not finish the old slew first."""
    w = world(0.0)
    c = w.controller
    c.goto(90.0)
    w.run(3.0)
    at = w.dome.dome_deg
    assert 5 < at < 40
    c.goto(300.0)
    furthest = at
    while c.is_moving():
        w.run(0.1)
        furthest = max(furthest, w.dome.dome_deg if w.dome.dome_deg < 180 else furthest)
    assert furthest < at + 6.0  # braking distance only, never on to 90
    assert abs(shortest_delta(w.dome.dome_deg, 300.0)) <= ONE_COUNT
    assert c.state is State.IDLE
    outcomes = [d.get("outcome") for k, d in w.events if k == "motion_ended"]
    assert outcomes == ["arrived"]  # one slew, retargeted, not two


def test_the_shortest_way_is_from_where_the_dome_can_stop() -> None:
    """Turning at full speed clockwise, a target just behind the dome is reached by
    braking and coming back, not by going round."""
    w = world(0.0)
    c = w.controller
    c.goto(170.0)
    w.run(4.0)
    here = c.azimuth()
    assert here is not None
    c.goto((here - 2.0) % 360)
    emitted = w.dome.snapshot()["emitted_steps"]
    settle(w)
    turned = (w.dome.snapshot()["emitted_steps"] - emitted) / w.mechanics.steps_per_deg
    assert abs(turned) < 10
    assert abs(shortest_delta(w.dome.dome_deg, (here - 2.0) % 360)) <= ONE_COUNT


def test_a_new_tracking_target_replaces_the_old_mid_slew() -> None:
    w = world(0.0)
    c = w.controller
    c.start_tracking(100.0, 1.0)
    w.run(3.0)
    assert c.is_moving()
    c.update_tracking(330.0)
    w.run(0.5)
    assert c.status().velocity_deg_s < 6.0  # braking already
    w.run_until(lambda: not c.is_moving(), 120)
    assert abs(shortest_delta(w.dome.dome_deg, 330.0)) <= 1.0
    assert c.state is State.TRACKING


def test_a_stall_threshold_in_dome_degrees() -> None:
    """The same dome with a finer encoder (geared 46.06:1) detects a stall after the
    same dome angle, not after a number of counts."""
    m = Mechanics(encoder_turns_per_dome_turn=46.06, stall_deg=0.7)
    w = world(0.0, mechanics=m)
    c = w.controller
    c.sync(0.0)
    c.goto(90.0)
    w.run(3.0)
    w.dome.faults.update(stalled_motor=True)
    took = w.run_until(lambda: c.state is State.FAULT, 2.0)
    assert "stall" in (c.status().fault or "")
    # 0.7 deg at 6 deg/s is ~0.12 s; lgpio's queue adds a period or two
    assert took <= 0.25


def test_a_goto_while_homing_is_needed_is_refused() -> None:
    m = Mechanics(encoder_turns_per_dome_turn=46.06)
    w = world(0.0, mechanics=m)
    c = w.controller
    with pytest.raises(InvalidStateError, match="find home"):
        c.goto(10.0)
    assert c.azimuth() is None
    c.jog(2.0)  # relative moves stay possible
    settle(w)
    assert w.dome.dome_deg == pytest.approx(2.0, abs=0.1)
