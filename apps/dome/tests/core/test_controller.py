"""The state machine against the simulated dome, on simulated time."""

import math
from pathlib import Path
from typing import Any

import pytest

from dome.core.angles import shortest_delta
from dome.core.controller import State
from dome.core.errors import FaultedError, InvalidStateError, InvalidValueError
from dome.core.mechanics import Mechanics
from dome.sim.world import SimWorld

ONE_COUNT = 360 / 1024


def world(start: float = 0.0, **kw: Any) -> SimWorld:
    w = SimWorld(start_deg=start, **kw)
    w.run(0.1)
    return w


def settle(w: SimWorld, timeout: float = 120) -> float:
    return w.run_until(lambda: not w.controller.is_moving(), timeout)


def run_renewing(w: SimWorld, seconds: float, direction: int = 1) -> None:
    """Continuous rotation as the page drives it: renewed every half second."""
    for _ in range(round(seconds / 0.5)):
        w.controller.move_continuous(direction)
        w.run(0.5)


@pytest.mark.parametrize(
    ("start", "target"),
    [(350.0, 10.0), (10.0, 350.0), (0.5, 359.0), (359.0, 0.5), (90.0, 270.5), (123.4, 123.9)],
)
def test_goto_takes_the_shortest_way_and_settles_within_one_count(
    start: float, target: float
) -> None:
    w = world(start)
    c = w.controller
    positions = []
    c.goto(target)
    while c.is_moving():
        w.run(0.1)
        positions.append(w.dome.dome_deg)
    # every step went the short way: never further from the start than the short path
    short = shortest_delta(start, target)
    for p in positions:
        travelled = p - start
        assert math.copysign(1, travelled) == math.copysign(1, short) or abs(travelled) < 0.5
        assert abs(travelled) <= abs(short) + 1.0
    status = c.status()
    assert status.state is State.IDLE
    assert status.last_outcome == "goto: arrived"
    assert abs(shortest_delta(w.dome.dome_deg, target)) <= ONE_COUNT
    assert status.azimuth is not None
    assert abs(shortest_delta(status.azimuth, target)) <= ONE_COUNT


def test_speed_and_acceleration_stay_within_limits() -> None:
    w = world(0.0)
    c = w.controller
    c.goto(180.0)
    last_v = 0.0
    while c.is_moving():
        w.run(w.mechanics.period)
        v = c.status().velocity_deg_s
        assert abs(v) <= w.mechanics.max_speed_deg_s + 1e-9
        creep = w.mechanics.creep_speed_deg_s
        if max(abs(v), abs(last_v)) > creep + 1e-9:  # below creep: start-stop rate
            assert abs(v - last_v) <= w.mechanics.acceleration_deg_s2 * w.mechanics.period + 1e-9
        last_v = v


def test_jog_follows_the_sign_even_the_long_way() -> None:
    w = world(10.0)
    w.controller.jog(-200.0)
    start_drive = w.dome.snapshot()["emitted_steps"]
    settle(w)
    assert w.dome.snapshot()["emitted_steps"] < start_drive  # turned anticlockwise
    assert abs(shortest_delta(w.dome.dome_deg, 170.0)) <= ONE_COUNT


def test_continuous_then_stop_decelerates() -> None:
    w = world(0.0)
    c = w.controller
    run_renewing(w, 3.0)
    assert c.status().velocity_deg_s == pytest.approx(w.mechanics.max_speed_deg_s)
    c.stop()
    took = settle(w, 10)
    # v/a to ramp down, plus the queue draining
    # v/a to ramp down, plus the queue draining (lgpio's start latency included)
    assert took == pytest.approx(
        w.mechanics.max_speed_deg_s / w.mechanics.acceleration_deg_s2, abs=0.2
    )
    assert c.state is State.IDLE
    assert c.status().last_outcome == "continuous: stopped"


@pytest.mark.parametrize("reverse", ["continuous", "jog", "goto"])
def test_reversing_while_the_last_pulses_go_out_waits_for_them(reverse: str) -> None:
    """A stop brings the velocity to 0 while the last pulses are still queued; a command
    the other way in that window used to queue pulses of the other direction at once,
    which the stepper refuses (DIR changed under queued pulses): the control loop failed
    and the control process exited. The simulated stepper refuses it as the real one does."""
    w = world(0.0)
    c = w.controller
    run_renewing(w, 2.0)
    c.stop()
    while c.status().velocity_deg_s != 0.0:
        w.run(w.mechanics.period)
    assert w.stepper.busy()  # the window: lgpio still has clockwise pulses queued
    here = c.azimuth()
    assert here is not None
    if reverse == "continuous":
        c.move_continuous(-1)
    elif reverse == "jog":
        c.jog(-20.0)
    else:
        c.goto((here - 20.0) % 360)
    emitted = w.dome.snapshot()["emitted_steps"]
    w.run(1.0)  # raised DirectionChangeError before the fix
    assert c.state is State.SLEWING
    assert c.status().velocity_deg_s < 0
    assert w.dome.snapshot()["emitted_steps"] < emitted  # now turning anticlockwise
    assert w.lg.dir_changes_while_busy == 0


def test_abort_stops_the_motor_now() -> None:
    w = world(0.0)
    c = w.controller
    run_renewing(w, 3.0, -1)
    c.abort()
    emitted = w.dome.snapshot()["emitted_steps"]
    w.run(1.0)
    assert w.dome.snapshot()["emitted_steps"] == emitted
    assert not w.stepper.busy()
    assert c.state is State.IDLE


def test_stalled_motor_faults_and_stops_within_200_ms() -> None:
    w = world(0.0)
    c = w.controller
    c.goto(90.0)
    w.run(3.0)  # at full speed
    w.dome.faults.update(stalled_motor=True)
    took = w.run_until(lambda: c.state is State.FAULT, 1.0)
    assert took <= 0.2
    assert "stall" in (c.status().fault or "")
    emitted = w.dome.snapshot()["emitted_steps"]
    w.run(0.5)
    assert w.dome.snapshot()["emitted_steps"] == emitted  # nothing more was sent
    with pytest.raises(FaultedError, match="stall"):
        c.goto(10.0)


def test_stuck_encoder_is_a_stall_too() -> None:
    w = world(0.0)
    c = w.controller
    run_renewing(w, 2.0)
    c.move_continuous(1)
    w.dome.faults.update(stuck_encoder=True)
    assert w.run_until(lambda: c.state is State.FAULT, 1.0) <= 0.2


def test_parity_errors_are_counted_and_survived() -> None:
    w = world(300.0)
    c = w.controller
    w.dome.faults.update(parity_error_rate=0.3)
    c.goto(20.0)
    settle(w)
    status = c.status()
    assert status.state is State.IDLE
    assert status.frame_errors["parity"] > 50
    assert abs(shortest_delta(w.dome.dome_deg, 20.0)) <= ONE_COUNT


def test_persistent_alarm_stops_motion() -> None:
    w = world(0.0)
    c = w.controller
    run_renewing(w, 2.0)
    c.move_continuous(1)
    w.dome.faults.update(linearity_alarm=True)
    w.run_until(lambda: c.state is State.FAULT, 1.0)
    assert "linearity_alarm" in (c.status().fault or "")
    emitted = w.dome.snapshot()["emitted_steps"]
    w.run(0.5)
    assert w.dome.snapshot()["emitted_steps"] == emitted
    with pytest.raises(InvalidStateError, match="bad frames"):
        c.clear_fault()
    w.dome.faults.update(linearity_alarm=False)
    w.run(0.1)
    c.clear_fault()
    assert c.state is State.IDLE


@pytest.mark.parametrize(
    "value", [400.0, -1.0, 360.0, float("nan"), float("inf"), "90", None, True]
)
def test_bad_azimuths_are_refused_and_nothing_moves(value: Any) -> None:
    w = world(0.0)
    c = w.controller
    with pytest.raises(InvalidValueError, match="azimuth"):
        c.goto(value)
    with pytest.raises(InvalidValueError, match="azimuth"):
        c.sync(value)
    w.run(0.5)
    assert w.dome.snapshot()["emitted_steps"] == 0
    assert c.state is State.IDLE


@pytest.mark.parametrize("value", [0, 0.0, 361.0, float("nan"), "5", None])
def test_bad_jogs_are_refused(value: Any) -> None:
    w = world(0.0)
    with pytest.raises(InvalidValueError, match="jog"):
        w.controller.jog(value)
    w.run(0.2)
    assert w.dome.snapshot()["emitted_steps"] == 0


def test_park_and_home_persist_and_a_slew_unparks(tmp_path: Path) -> None:
    state = tmp_path / "positions.json"
    w = world(10.0, state_file=state)
    c = w.controller
    c.set_park(200.0)
    c.set_home(45.0)
    c.park()
    settle(w)
    assert c.state is State.PARKED
    again = SimWorld(start_deg=w.dome.dome_deg, state_file=state)
    again.run(0.1)
    c2 = again.controller
    assert c2.state is State.PARKED
    assert c2.status().park_deg == 200.0
    c2.find_home()
    assert c2.state is State.HOMING
    settle(again)
    assert c2.state is State.IDLE
    assert c2.status().at_home
    c2.park()
    settle(again)
    assert c2.state is State.PARKED
    c2.goto(10.0)  # ASCOM: AtPark is reset by any slew
    assert c2.state is State.SLEWING
    assert not c2.status().at_park
    settle(again)
    assert abs(shortest_delta(again.dome.dome_deg, 10.0)) <= ONE_COUNT


def test_sync_shifts_the_reported_azimuth(tmp_path: Path) -> None:
    w = world(100.0, state_file=tmp_path / "p.json")
    c = w.controller
    c.sync(110.0)
    assert c.azimuth() == pytest.approx(110.0, abs=ONE_COUNT)
    c.goto(120.0)
    settle(w)
    # the sync and the goto each carry up to one count of quantisation
    assert w.dome.dome_deg == pytest.approx(110.0, abs=2 * ONE_COUNT)
    assert c.azimuth() == pytest.approx(120.0, abs=ONE_COUNT)
    c.move_continuous(1)
    with pytest.raises(InvalidStateError, match="sync"):
        c.sync(5.0)


def test_events_record_each_motion() -> None:
    w = world(0.0)
    w.controller.goto(5.0)
    settle(w)
    kinds = [k for k, _ in w.events]
    assert kinds == ["motion_started", "motion_ended"]
    assert w.events[1][1]["outcome"] == "arrived"


def test_no_encoder_reading_no_motion() -> None:
    w = SimWorld(start_deg=0.0)
    with pytest.raises(InvalidStateError, match="encoder"):
        w.controller.goto(10.0)


def test_geared_encoder_unwraps_across_turns() -> None:
    w = world(0.0, mechanics=Mechanics(encoder_turns_per_dome_turn=4))
    w.controller.sync(0.0)  # geared: the position is known once synced (or homed)
    c = w.controller
    c.goto(170.0)  # the encoder wraps twice on the way
    settle(w)
    az = c.azimuth()
    assert az is not None
    assert abs(shortest_delta(az, 170.0)) <= 360 / 4096
    assert abs(shortest_delta(w.dome.dome_deg, 170.0)) <= 2 * 360 / 4096


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(st.floats(0, 359.9), st.floats(0, 359.9))
def test_any_goto_settles_within_one_count_the_short_way(start: float, target: float) -> None:
    w = world(start)
    c = w.controller
    before = w.dome.snapshot()["emitted_steps"]
    c.goto(target)
    settle(w)
    turned = (w.dome.snapshot()["emitted_steps"] - before) / w.mechanics.steps_per_deg
    assert abs(turned) <= abs(shortest_delta(start, target)) + 2 * ONE_COUNT
    assert c.state is State.IDLE
    assert abs(shortest_delta(w.dome.dome_deg, target)) <= ONE_COUNT


_COMMANDS = st.one_of(
    st.tuples(st.just("goto"), st.floats(0, 359.9)),
    st.tuples(st.just("jog"), st.floats(-360, 360).filter(lambda d: abs(d) > 0.01)),
    st.tuples(st.just("continuous"), st.sampled_from([1, -1])),
    st.tuples(st.just("stop"), st.none()),
    st.tuples(st.just("abort"), st.none()),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(_COMMANDS, st.lists(st.floats(0.1, 3.0), min_size=1, max_size=40)),
        min_size=1,
        max_size=8,
    )
)
def test_no_command_sequence_makes_the_stepper_refuse_pulses(
    plan: list[tuple[tuple[str, Any], list[float]]],
) -> None:
    """Commands arrive at any moment and ticks come early or late (the loop keeps absolute
    deadlines, so a late tick is followed by a short one); whatever the order, the
    controller never queues pulses the stepper refuses, which would fail the loop."""
    w = world(90.0)
    c = w.controller
    for (op, arg), ticks in plan:
        if op == "goto":
            c.goto(arg)
        elif op == "jog":
            c.jog(arg)
        elif op == "continuous":
            c.move_continuous(arg)
        elif op == "stop":
            c.stop()
        else:
            c.abort()
        for periods in ticks:
            w.manual.now += periods * w.mechanics.period
            c.tick()  # raised DirectionChangeError when DIR changed under queued pulses
        assert c.state is not State.FAULT, c.status().fault
    assert w.lg.dir_changes_while_busy == 0
