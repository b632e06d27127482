"""The lgpio stepper driver against the lgpio stand-in with lgpio's real timing
(:mod:`dome.sim.lgpio`): lgpio itself is the only judge of what is still queued."""

from __future__ import annotations

import pytest

from dome.core.ports import DirectionChangeError, QueueFullError, Segment
from dome.hardware.stepper import LgpioStepper
from dome.sim.lgpio import SimLgpio


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def make(seed: int = 1) -> tuple[LgpioStepper, SimLgpio, Clock]:
    clock = Clock()
    lg = SimLgpio(clock, seed=seed)
    lg.watch_dir(17, 18)
    h = lg.gpiochip_open(0)
    return LgpioStepper(lg, h, 17, 18, clock=clock), lg, clock


@pytest.mark.parametrize(
    ("direction", "rate", "steps", "message"),
    [
        (0, 100.0, 1, "direction"),
        (1, 0.0, 1, "rate"),
        (1, float("nan"), 1, "rate"),
        (1, 10.0, 0, "steps"),
    ],
)
def test_bad_segments_are_refused(direction: int, rate: float, steps: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Segment(direction, rate, steps)


def sent(lg: SimLgpio, clock: Clock) -> int:
    return sum(n for _, n in lg.take_edges(18, clock.now))


@pytest.mark.parametrize("seed", range(6))
def test_emitted_steps_never_run_ahead_of_lgpio(seed: int) -> None:
    """The driver's count of pulses sent is exact for finished segments and an
    under-estimate for the one playing: never more than lgpio really sent."""
    stepper, lg, clock = make(seed)
    real = 0
    for i in range(60):
        if i < 40 and stepper.room() > 0:
            stepper.queue(Segment(1, 2000.0, 40))
        clock.now += 0.007
        real += sent(lg, clock)
        assert 0 <= stepper.emitted_steps() <= real
    clock.now += 1.0
    real += sent(lg, clock)
    assert stepper.emitted_steps() == real
    assert not stepper.busy()


def test_dir_is_set_before_the_first_pulse_and_only_when_drained() -> None:
    stepper, lg, clock = make()
    stepper.queue(Segment(1, 1000.0, 20))
    with pytest.raises(DirectionChangeError):
        stepper.queue(Segment(-1, 1000.0, 20))
    assert lg.dir_changes_while_busy == 0
    clock.now += 0.2
    assert not stepper.busy()
    stepper.queue(Segment(-1, 1000.0, 20))
    assert lg.level(17) == 0
    clock.now += 0.2
    runs = lg.take_edges(18, clock.now)
    dir_change = lg._outputs[17].changes[-1][0]
    assert runs
    assert runs[-1][0] - dir_change >= 10  # the DIR lead time, from lgpio's start offset
    assert stepper.emitted_steps() == 0  # 20 one way, 20 back


def test_a_full_queue_is_reported_not_overrun() -> None:
    stepper, _lg, _clock = make()
    for _ in range(10):
        stepper.queue(Segment(1, 1000.0, 100))
    assert stepper.room() == 0
    with pytest.raises(QueueFullError):
        stepper.queue(Segment(1, 1000.0, 100))


def test_flush_stops_now() -> None:
    stepper, lg, clock = make()
    stepper.queue(Segment(1, 1000.0, 1000))
    clock.now += 0.3
    stepper.flush()
    assert not stepper.busy()
    real = sent(lg, clock)
    clock.now += 1.0
    assert sent(lg, clock) == 0
    assert stepper.emitted_steps() <= real
