"""A simulated RP2040 temperature sensor: a temperature curve seen through the ADC.

The simulator does not hand the firmware core a temperature; it hands it raw ADC counts
(the curve run backwards through the datasheet formula), so the core's averaging and
conversion run exactly as on the board.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from picotemp.firmware import core


@dataclass(frozen=True)
class TemperatureCurve:
    """``base + amplitude * sin(2π t / period)`` in °C, plus optional Gaussian noise."""

    base_celsius: float = 21.0
    amplitude_celsius: float = 2.0
    period_seconds: float = 600.0
    noise_celsius: float = 0.0

    def __post_init__(self) -> None:
        if self.period_seconds <= 0:
            raise ValueError(f"period_seconds must be positive, got {self.period_seconds}")
        if self.noise_celsius < 0:
            raise ValueError(f"noise_celsius must not be negative, got {self.noise_celsius}")

    def celsius_at(self, t: float) -> float:
        return self.base_celsius + self.amplitude_celsius * math.sin(
            2 * math.pi * t / self.period_seconds
        )


def celsius_to_raw(celsius: float) -> int:
    """The ``read_u16()`` value the board's ADC gives at ``celsius`` (clamped to the ADC range)."""
    volts = core.SENSOR_VOLTS_AT_27C - (celsius - 27) * core.SENSOR_VOLTS_PER_DEGREE
    raw = round(volts * core.ADC_MAX / core.ADC_VREF_VOLTS)
    return max(0, min(core.ADC_MAX, raw))


class SimulatedAdc(core.Adc):
    """ADC channel 4 of a board whose die follows ``curve``; time starts at creation."""

    def __init__(
        self,
        curve: TemperatureCurve,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.curve = curve
        self._clock = clock
        self._start = clock()
        self._rng = rng or random.Random()  # noqa: S311 - sensor noise, not cryptography

    def read_u16(self) -> int:
        celsius = self.curve.celsius_at(self._clock() - self._start)
        if self.curve.noise_celsius:
            celsius += self._rng.gauss(0, self.curve.noise_celsius)
        return celsius_to_raw(celsius)

    def true_celsius(self) -> float:
        """The curve's value now, without noise: what a reading should be close to."""
        return self.curve.celsius_at(self._clock() - self._start)
