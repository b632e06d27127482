"""Switches and relays on GPIO lines, through lgpio (or :class:`dome.sim.lgpio.SimLgpio`).

One gpiochip handle is opened once per process (:func:`dome.hardware.stepper.open_lgpio`)
and shared by the stepper, the home switch, the shutter and the rain sensor.
"""

from __future__ import annotations

from typing import Any


class GpioInput:
    """A switch: ``active()`` is True when it is pressed (``active_low``: pressed pulls the
    line low, as a switch to ground with the pull-up on does)."""

    def __init__(self, lg: Any, handle: int, gpio: int, *, active_low: bool) -> None:
        self._lg = lg
        self._handle = handle
        self.gpio = gpio
        self._active_low = active_low
        flags = lg.SET_PULL_UP if active_low else lg.SET_PULL_DOWN
        lg.gpio_claim_input(handle, gpio, flags)

    def active(self) -> bool:
        try:
            level = int(self._lg.gpio_read(self._handle, self.gpio))
        except self._lg.error as exc:
            raise OSError(f"GPIO {self.gpio}: {exc}") from exc
        return (level == 0) if self._active_low else (level == 1)

    def close(self) -> None:
        self._lg.gpio_free(self._handle, self.gpio)


class GpioOutput:
    """A relay input: ``set(True)`` energises it (``active_low`` boards energise on 0)."""

    def __init__(self, lg: Any, handle: int, gpio: int, *, active_low: bool) -> None:
        self._lg = lg
        self._handle = handle
        self.gpio = gpio
        self._active_low = active_low
        lg.gpio_claim_output(handle, gpio, 1 if active_low else 0)

    def set(self, on: bool) -> None:
        level = (0 if on else 1) if self._active_low else (1 if on else 0)
        try:
            self._lg.gpio_write(self._handle, self.gpio, level)
        except self._lg.error as exc:
            raise OSError(f"GPIO {self.gpio}: {exc}") from exc

    def close(self) -> None:
        self.set(False)
        self._lg.gpio_free(self._handle, self.gpio)
