import pytest

from dome.core.ports import FrameError
from dome.hardware.encoder import frame_from_transfer, parse_frame
from dome.sim.dome import SimDome, SimFaults, SimMechanics, SimSpiDev
from dome.sim.lgpio import SimLgpio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(**kw: object) -> tuple[SimDome, SimLgpio, Clock]:
    clock = Clock()
    lg = SimLgpio(clock)
    mech = SimMechanics(steps_per_dome_turn=360_000, **kw)  # type: ignore[arg-type]
    return SimDome(mech, clock=clock, lg=lg), lg, clock


def pulse(lg: SimLgpio, direction: int, rate_hz: int, steps: int) -> None:
    lg.gpio_write(0, 17, 1 if direction > 0 else 0)
    period = round(1e6 / rate_hz)
    lg.tx_pulse(0, 18, 10, period - 10, 10, steps)


def test_pulses_turn_the_dome_through_the_gearing() -> None:
    dome, lg, clock = make(backlash_deg=0.0, slip_fraction=0.0, inertia_s=0.01)
    pulse(lg, 1, 10_000, 10_000)  # 10 deg in 1 s, after lgpio's start latency
    clock.now = 2.0
    assert dome.snapshot()["dome_deg"] == pytest.approx(10.0, abs=0.01)
    frame = parse_frame(dome.read_word())
    assert frame.ok
    assert frame.position == round(10.0 / 360 * 1024)


def test_a_reversed_motor_and_a_reversed_encoder() -> None:
    dome, lg, clock = make(
        backlash_deg=0.0, slip_fraction=0.0, motor_reversed=True, encoder_reversed=True
    )
    pulse(lg, 1, 10_000, 10_000)
    clock.now = 2.0
    assert dome.snapshot()["dome_deg"] == pytest.approx(350.0, abs=0.01)
    assert parse_frame(dome.read_word()).position == round(10.0 / 360 * 1024)


def test_a_non_integer_gearing_and_the_home_switch() -> None:
    dome, lg, clock = make(
        backlash_deg=0.0, slip_fraction=0.0, encoder_turns_per_dome_turn=46.06, home_deg=45.0
    )
    assert dome.home_level() == 1
    pulse(lg, 1, 10_000, 45_000)
    clock.now = 6.0
    assert dome.home_level() == 0  # the cam presses the switch: the line is pulled low
    wheel_turns = 45.0 / 360 * 46.06
    assert dome.encoder_counts() == round((wheel_turns % 1) * 1024) % 1024


def test_backlash_is_taken_up_on_reversal() -> None:
    dome, lg, clock = make(backlash_deg=0.5, slip_fraction=0.0, inertia_s=0.01)
    pulse(lg, 1, 10_000, 2000)
    clock.now = 1.0
    forward = dome.snapshot()["dome_deg"]
    pulse(lg, -1, 10_000, 400)  # 0.4 deg back: inside the play
    clock.now = 2.0
    assert dome.snapshot()["dome_deg"] == pytest.approx(forward, abs=0.01)


def test_slip_loses_a_little_motion() -> None:
    dome, lg, clock = make(backlash_deg=0.0, slip_fraction=0.01, inertia_s=0.01)
    pulse(lg, 1, 36_000, 36_000)
    clock.now = 3.0
    moved = dome.snapshot()["dome_deg"]
    assert 35.4 < moved < 35.9


@pytest.mark.parametrize("mode", [0, 1])
def test_the_spi_stand_in_frames_the_word_as_the_mode_does(mode: int) -> None:
    dome, _lg, _clock = make()
    spi = SimSpiDev(dome, mode)
    data = spi.xfer2([0, 0, 0])
    assert parse_frame(frame_from_transfer(data, mode)).ok
    # read in the other mode, the frame is shifted: parity catches it every time
    other = 1 - mode
    word = frame_from_transfer(data, other)
    assert word != dome.read_word() or word == 0


def test_faults_switch_while_running() -> None:
    dome, lg, clock = make()
    dome.faults.update(parity_error_rate=1.0)
    assert parse_frame(dome.read_word()).error is FrameError.PARITY
    dome.faults.update(parity_error_rate=0.0, linearity_alarm=True)
    assert parse_frame(dome.read_word()).error is FrameError.LINEARITY_ALARM
    dome.faults.update(linearity_alarm=False, stuck_encoder=True)
    stuck = dome.read_word()
    pulse(lg, 1, 10_000, 10_000)
    clock.now = 2.0
    assert dome.read_word() == stuck
    dome.faults.update(stuck_encoder=False, stalled_motor=True)
    before = dome.snapshot()["dome_deg"]
    pulse(lg, 1, 10_000, 10_000)
    clock.now = 4.0
    snap = dome.snapshot()
    assert snap["dome_deg"] == pytest.approx(before, abs=0.01)
    assert snap["emitted_steps"] == 20_000
    dome.faults.update(spi_error=True)
    with pytest.raises(OSError, match="SPI"):
        SimSpiDev(dome, 0).xfer2([0, 0, 0])


def test_unknown_or_bad_faults_are_refused() -> None:
    faults = SimFaults()
    with pytest.raises(ValueError, match="unknown simulator fault"):
        faults.update(on_fire=True)
    with pytest.raises(ValueError, match=r"0\.\.1"):
        faults.update(parity_error_rate=2.0)
    with pytest.raises(ValueError, match="true or false"):
        faults.update(stalled_motor="yes")
