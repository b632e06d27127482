import pytest

from dome.hardware.encoder import FrameError, parse_frame
from dome.hardware.stepper import Segment
from dome.sim.dome import SimDome, SimFaults, SimMechanics


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(**kw: object) -> tuple[SimDome, Clock]:
    clock = Clock()
    mech = SimMechanics(steps_per_dome_turn=360_000, **kw)  # type: ignore[arg-type]
    return SimDome(mech, clock=clock), clock


def test_pulses_turn_the_dome_through_the_gearing() -> None:
    dome, clock = make(backlash_deg=0.0, slip_fraction=0.0, inertia_s=0.01)
    dome.queue(Segment(1, 10_000.0, 10_000))  # 10 deg in 1 s
    clock.now = 0.5
    assert dome.pending_steps() == 5000
    clock.now = 2.0
    assert dome.snapshot()["dome_deg"] == pytest.approx(10.0, abs=0.01)
    frame = parse_frame(dome.read_word())
    assert frame.ok
    assert frame.position == round(10.0 / 360 * 1024)


def test_backlash_is_taken_up_on_reversal() -> None:
    dome, clock = make(backlash_deg=0.5, slip_fraction=0.0, inertia_s=0.01)
    dome.queue(Segment(1, 10_000.0, 2000))
    clock.now = 1.0
    forward = dome.snapshot()["dome_deg"]
    dome.queue(Segment(-1, 10_000.0, 400))  # 0.4 deg back: inside the play
    clock.now = 2.0
    assert dome.snapshot()["dome_deg"] == pytest.approx(forward, abs=0.01)


def test_slip_loses_a_little_motion() -> None:
    dome, clock = make(backlash_deg=0.0, slip_fraction=0.01, inertia_s=0.01)
    dome.queue(Segment(1, 36_000.0, 36_000))
    clock.now = 3.0
    moved = dome.snapshot()["dome_deg"]
    assert 35.4 < moved < 35.9


def test_faults_switch_while_running() -> None:
    dome, clock = make()
    dome.faults.update(parity_error_rate=1.0)
    assert parse_frame(dome.read_word()).error is FrameError.PARITY
    dome.faults.update(parity_error_rate=0.0, linearity_alarm=True)
    assert parse_frame(dome.read_word()).error is FrameError.LINEARITY_ALARM
    dome.faults.update(linearity_alarm=False, stuck_encoder=True)
    stuck = dome.read_word()
    dome.queue(Segment(1, 10_000.0, 10_000))
    clock.now = 2.0
    assert dome.read_word() == stuck
    dome.faults.update(stuck_encoder=False, stalled_motor=True)
    before = dome.snapshot()["dome_deg"]
    dome.queue(Segment(1, 10_000.0, 10_000))
    clock.now = 4.0
    snap = dome.snapshot()
    assert snap["dome_deg"] == pytest.approx(before, abs=0.01)
    assert snap["emitted_steps"] == 20_000


def test_unknown_or_bad_faults_are_refused() -> None:
    faults = SimFaults()
    with pytest.raises(ValueError, match="unknown simulator fault"):
        faults.update(on_fire=True)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        faults.update(parity_error_rate=2.0)
    with pytest.raises(ValueError, match="true or false"):
        faults.update(stalled_motor="yes")
