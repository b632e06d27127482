import sys
import types
from typing import Any

import pytest

from dome.hardware.stepper import DirectionChangeError, LgpioStepper, Segment, _Timeline


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


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


def test_timeline_counts_pulses_as_they_play() -> None:
    clock = Clock()
    line = _Timeline(clock)
    line.add(Segment(1, 100.0, 50))  # 0.5 s
    line.add(Segment(1, 200.0, 100))  # then 0.5 s more
    assert line.pending() == 150
    clock.now = 0.25
    assert line.emitted() == 25
    clock.now = 0.75
    assert line.emitted() == 100
    assert line.pending() == 50
    line.cut()
    clock.now = 2.0
    assert line.emitted() == 100
    assert line.pending() == 0


class FakeLgpio(types.ModuleType):
    """Stands in for lgpio, which only runs on a Raspberry Pi (no GPIO chip here); it
    records the calls so the test can check what the driver asks of the pulse engine."""

    TX_PWM = 0

    def __init__(self) -> None:
        super().__init__("lgpio")
        self.calls: list[tuple[Any, ...]] = []
        self.busy = False

    def gpiochip_open(self, chip: int) -> int:
        self.calls.append(("open", chip))
        return 7

    def gpio_claim_output(self, h: int, gpio: int, level: int) -> None:
        self.calls.append(("claim", gpio, level))

    def gpio_write(self, h: int, gpio: int, level: int) -> None:
        self.calls.append(("write", gpio, level))

    def tx_pulse(
        self, h: int, gpio: int, on: int, off: int, offset: int = 0, cycles: int = 0
    ) -> int:
        self.calls.append(("pulse", gpio, on, off, cycles))
        return 10

    def tx_busy(self, h: int, gpio: int, kind: int) -> bool:
        return self.busy

    def gpiochip_close(self, h: int) -> None:
        self.calls.append(("close",))


def test_lgpio_stepper_queues_pulses_sets_dir_first_and_flushes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeLgpio()
    monkeypatch.setitem(sys.modules, "lgpio", fake)
    clock = Clock()
    stepper = LgpioStepper(0, dir_gpio=17, step_gpio=18, clock=clock)
    stepper.queue(Segment(1, 1000.0, 20))
    assert fake.calls[-1] == ("pulse", 18, 10, 990, 20)
    stepper.queue(Segment(-1, 500.0, 5))
    assert fake.calls[-2:] == [("write", 17, 0), ("pulse", 18, 10, 1990, 5)]
    fake.busy = True
    with pytest.raises(DirectionChangeError):
        stepper.queue(Segment(1, 500.0, 5))
    stepper.flush()
    assert fake.calls[-1] == ("pulse", 18, 0, 0, 0)
    assert stepper.pending_steps() == 0
