"""The shutter's state machine over GPIO relays and limit switches, against the simulated
shutter on the lgpio stand-in: states, limits, timeouts, faults, never both relays."""

from __future__ import annotations

from typing import Any

import pytest

from dome.core.errors import InvalidStateError, UnsafeError
from dome.core.ports import ShutterLimits, ShutterMotion
from dome.core.shutter import Shutter, ShutterState
from dome.hardware.gpio import GpioInput, GpioOutput
from dome.hardware.shutter import GpioShutter, LimitPair
from dome.sim.lgpio import SimLgpio
from dome.sim.shutter import SimShutterMechanism, attach_to_gpio

OPEN_OUT, CLOSE_OUT, OPEN_LIMIT, CLOSED_LIMIT = 5, 6, 23, 24
TRAVEL = 10.0
TIMEOUT = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


class Rig:
    def __init__(self, position: float = 0.0, relay_active_low: bool = False) -> None:
        self.clock = Clock()
        self.lg = SimLgpio(self.clock)
        self.mech = SimShutterMechanism(self.clock, travel_s=TRAVEL, position=position)
        attach_to_gpio(
            self.mech,
            self.lg,
            open_out=OPEN_OUT,
            close_out=CLOSE_OUT,
            open_limit=OPEN_LIMIT,
            closed_limit=CLOSED_LIMIT,
            relay_active_low=relay_active_low,
            limit_active_low=True,
        )
        h = self.lg.gpiochip_open(0)
        self.drive = GpioShutter(
            GpioOutput(self.lg, h, OPEN_OUT, active_low=relay_active_low),
            GpioOutput(self.lg, h, CLOSE_OUT, active_low=relay_active_low),
            LimitPair(
                GpioInput(self.lg, h, OPEN_LIMIT, active_low=True),
                GpioInput(self.lg, h, CLOSED_LIMIT, active_low=True),
            ),
        )
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.shutter = Shutter(
            self.drive, TIMEOUT, self.clock, lambda k, d: self.events.append((k, d))
        )
        self.shutter.tick()

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds / 0.1)):
            self.clock.now += 0.1
            self.shutter.tick()

    def motor_off(self) -> bool:
        snap = self.mech.snapshot()
        return not snap["opening"] and not snap["closing"]


@pytest.mark.parametrize("active_low", [False, True])
def test_open_then_close_stops_at_each_limit(active_low: bool) -> None:
    rig = Rig(0.0, relay_active_low=active_low)
    s = rig.shutter
    assert s.state is ShutterState.CLOSED
    s.open()
    assert s.state is ShutterState.OPENING
    rig.run(TRAVEL / 2)
    assert 0.3 < rig.mech.position < 0.7
    rig.run(TRAVEL / 2 + 0.5)
    assert s.state is ShutterState.OPEN
    assert rig.motor_off()
    s.close()
    rig.run(TRAVEL + 0.5)
    assert s.state is ShutterState.CLOSED
    assert rig.motor_off()
    assert rig.mech.both_on == 0
    assert [int(st) for st in ShutterState] == [0, 1, 2, 3, 4]  # ASCOM ShutterState


def test_reversing_mid_travel_never_drives_both_relays() -> None:
    rig = Rig(0.0)
    rig.shutter.open()
    rig.run(3.0)
    rig.shutter.close()
    rig.run(0.5)
    assert rig.shutter.state is ShutterState.CLOSING
    rig.shutter.open()
    rig.run(TRAVEL)
    assert rig.shutter.state is ShutterState.OPEN
    assert rig.mech.both_on == 0


def test_a_stuck_shutter_times_out_stops_and_says_why() -> None:
    rig = Rig(0.0)
    rig.mech.faults.update(stuck=True)
    rig.shutter.open()
    rig.run(TIMEOUT + 0.5)
    s = rig.shutter
    assert s.state is ShutterState.ERROR
    assert s.error == (
        f"did not reach the open limit within {TIMEOUT:g} s: it never left the other limit: stuck?"
    )
    assert rig.motor_off()


def test_a_limit_that_never_trips_times_out_and_stops() -> None:
    rig = Rig(1.0)
    rig.mech.faults.update(closed_limit_never_trips=True)
    rig.shutter.tick()
    rig.shutter.close()
    rig.run(TIMEOUT + 0.5)
    assert rig.shutter.state is ShutterState.ERROR
    assert "its limit switch never tripped" in (rig.shutter.error or "")
    assert rig.motor_off()


def test_between_the_limits_at_start_is_an_error_and_close_recovers() -> None:
    rig = Rig(0.5)
    assert rig.shutter.state is ShutterState.ERROR
    assert "between its limits" in (rig.shutter.error or "")
    rig.shutter.close()
    rig.run(TRAVEL)
    assert rig.shutter.state is ShutterState.CLOSED


def test_stop_mid_travel_leaves_an_error_state() -> None:
    rig = Rig(0.0)
    rig.shutter.open()
    rig.run(2.0)
    rig.shutter.stop()
    assert rig.shutter.state is ShutterState.ERROR
    assert rig.shutter.error == "stopped between the limits"
    assert rig.motor_off()


def test_opening_is_refused_while_unsafe_and_nothing_moves() -> None:
    rig = Rig(0.0)
    rig.shutter.open_gate = lambda: "rain sensor says unsafe"
    with pytest.raises(UnsafeError, match="rain sensor says unsafe"):
        rig.shutter.open()
    rig.run(1.0)
    assert rig.shutter.state is ShutterState.CLOSED
    assert rig.mech.position == 0.0
    rig.shutter.open_gate = lambda: None
    rig.shutter.open()
    assert rig.shutter.state is ShutterState.OPENING


def test_the_interlock_refuses_while_the_dome_rotates() -> None:
    rig = Rig(1.0)
    rig.shutter.tick()
    rig.shutter.motion_gate = lambda: "the dome is rotating"
    with pytest.raises(InvalidStateError, match="rotating"):
        rig.shutter.close()
    assert rig.shutter.state is ShutterState.OPEN


class Broken:
    """A drive whose limits cannot be read (an unplugged cable, an unreachable relay)."""

    def __init__(self) -> None:
        self.motions: list[ShutterMotion] = []
        self.fail = False

    def drive(self, motion: ShutterMotion) -> None:
        self.motions.append(motion)

    def limits(self) -> ShutterLimits:
        if self.fail:
            raise OSError("GPIO 23: read failed")
        return ShutterLimits(open=False, closed=True)

    def close(self) -> None:
        pass


def test_unreadable_limits_stop_the_motor() -> None:
    """A stand-in drive: the simulators cannot fail a read on their own."""
    drive = Broken()
    clock = Clock()
    s = Shutter(drive, TIMEOUT, clock)
    s.tick()
    s.open()
    drive.fail = True
    s.tick()
    assert s.state is ShutterState.ERROR
    assert "limit switches unreadable" in (s.error or "")
    assert drive.motions[-1] is ShutterMotion.STOP


def test_both_limits_active_is_an_error() -> None:
    rig = Rig(0.0)
    rig.mech.position = 0.0
    rig.lg.attach_input(OPEN_LIMIT, lambda: 0)  # a shorted open limit
    rig.shutter.tick()
    assert rig.shutter.state is ShutterState.ERROR
    assert "both limit switches" in (rig.shutter.error or "")
    with pytest.raises(InvalidStateError):
        rig.shutter.open()
