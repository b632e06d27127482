"""Knowing where the dome is with an encoder geared by a non-integer ratio (the
observatory's 50 mm wheel on a 2303 mm ring): persisted position, home switch,
FindHome, and refusing gotos until the position is known."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dome.core.angles import shortest_delta
from dome.core.controller import State
from dome.core.errors import InvalidStateError
from dome.core.mechanics import Mechanics
from dome.sim.world import SimWorld

RATIO = 2303 / 50  # 46.06 wheel turns per dome turn
GEARED = Mechanics(encoder_turns_per_dome_turn=RATIO)


def world(start: float, state: Path | None = None, **kw: Any) -> SimWorld:
    kw.setdefault("mechanics", GEARED)
    w = SimWorld(start_deg=start, state_file=state, **kw)
    w.run(0.1)
    return w


def settle(w: SimWorld, timeout: float = 400) -> float:
    return w.run_until(lambda: not w.controller.is_moving(), timeout)


def test_find_home_drives_to_the_switch_and_re_references(tmp_path: Path) -> None:
    w = world(300.0, tmp_path / "p.json", home_deg=45.0)
    c = w.controller
    assert c.homing_required() is not None
    c.find_home()
    assert c.state is State.HOMING
    settle(w)
    assert c.state is State.IDLE, c.status().fault
    assert c.homing_required() is None
    az = c.azimuth()
    assert az is not None
    # the switch's edge (the cam is 2 deg wide, reached turning clockwise) reads 45
    assert abs(shortest_delta(az, w.dome.dome_deg + 1.0 - 0.0)) < 1.5
    c.goto(100.0)
    settle(w)
    assert abs(shortest_delta(w.dome.dome_deg, 100.0 - 1.0)) < 0.2


def test_the_switch_azimuth_is_where_the_edge_is(tmp_path: Path) -> None:
    """Configured with the edge's own azimuth (where the cam first presses the switch
    turning clockwise: 44 for a 2-deg cam at 45), gotos land where they should."""
    w = world(200.0, tmp_path / "p.json", home_deg=45.0, home_switch_deg=44.0)
    c = w.controller
    c.find_home()
    settle(w)
    for target in (10.0, 250.0):
        c.goto(target)
        settle(w)
        assert abs(shortest_delta(w.dome.dome_deg, target)) < 0.1


def test_a_restart_trusts_the_persisted_position_when_the_encoder_agrees(
    tmp_path: Path,
) -> None:
    state = tmp_path / "p.json"
    w = world(10.0, state, home_deg=45.0, home_switch_deg=44.0)
    c = w.controller
    c.find_home()
    settle(w)
    c.goto(123.4)
    settle(w)
    c.shutdown()
    again = world(w.dome.dome_deg, state, home_deg=45.0, home_switch_deg=44.0)
    c2 = again.controller
    assert c2.homing_required() is None
    assert c2.azimuth() == pytest.approx(c.azimuth(), abs=0.01)
    c2.goto(200.0)
    settle(again)
    assert abs(shortest_delta(again.dome.dome_deg, 200.0)) < 0.1


def test_a_dome_moved_while_off_needs_homing_and_refuses_gotos(tmp_path: Path) -> None:
    state = tmp_path / "p.json"
    w = world(10.0, state, home_deg=45.0, home_switch_deg=44.0)
    w.controller.find_home()
    settle(w)
    w.controller.shutdown()
    pushed = w.dome.dome_deg + 3.3  # pushed by hand: a few wheel turns and a bit
    again = world(pushed, state, home_deg=45.0, home_switch_deg=44.0)
    c = again.controller
    assert "moved while the controller was off" in (c.homing_required() or "")
    assert c.azimuth() is None
    with pytest.raises(InvalidStateError, match="find home"):
        c.goto(90.0)
    with pytest.raises(InvalidStateError, match="find home"):
        c.park()
    with pytest.raises(InvalidStateError, match="find home"):
        c.start_tracking(90.0, 1.0)
    c.find_home()
    settle(again)
    c.goto(90.0)
    settle(again)
    assert abs(shortest_delta(again.dome.dome_deg, 90.0)) < 0.1


def test_a_crash_mid_slew_needs_homing(tmp_path: Path) -> None:
    state = tmp_path / "p.json"
    w = world(10.0, state, home_deg=45.0, home_switch_deg=44.0)
    w.controller.find_home()
    settle(w)
    w.controller.goto(200.0)
    w.run(2.0)  # the process dies here: no shutdown
    again = world(w.dome.dome_deg, state, home_deg=45.0, home_switch_deg=44.0)
    assert "stopped while the dome moved" in (again.controller.homing_required() or "")


def test_a_one_to_one_encoder_is_always_trusted() -> None:
    w = world(77.0, mechanics=Mechanics())
    assert w.controller.homing_required() is None
    assert w.controller.azimuth() == pytest.approx(77.0, abs=360 / 1024)


def test_sync_also_makes_the_position_known() -> None:
    w = world(30.0)
    c = w.controller
    c.sync(30.0)
    assert c.homing_required() is None
    c.goto(60.0)
    settle(w)
    assert abs(shortest_delta(w.dome.dome_deg, 60.0)) < 0.1


def test_no_home_switch_found_within_a_turn_is_a_fault() -> None:
    w = world(0.0, home_deg=45.0)
    w.dome.mechanics = type(w.dome.mechanics)(
        **{**w.dome.mechanics.__dict__, "home_deg": None}  # the switch is broken
    )
    c = w.controller
    c.find_home()
    w.run_until(lambda: c.state is State.FAULT, 400)
    fault = c.status().fault or ""
    assert "home switch not found" in fault or "not done after" in fault
