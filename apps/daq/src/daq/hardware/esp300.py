"""Newport ESP300 motion controller: 19200 8N1, commands end CR, replies end CR LF.

After every command that moves or sets something the error queue (``TE?``) is read, so
an error is never silently lost. Moves are refused before any byte is sent when the
target lies outside the axis' software limits from configuration.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from daq.hardware.base import LineInstrument
from daq.hardware.errors import InstrumentError, ReplyTimeout, ValueRefused
from daq.hardware.parsing import (
    describe_esp300_error,
    format_fixed,
    parse_digit_bool,
    parse_esp300_units,
    parse_float,
    parse_int,
)
from daq.hardware.properties import Validator, control, in_range, measurement
from daq.hardware.transport import Transport

PositionQuery = Literal["TP", "TP?"]


def _fixed(inner: Validator) -> Validator:
    def check(value: Any, obj: Any) -> str:
        return format_fixed(inner(value, obj))

    return check


def _positive_fixed(high: float) -> Validator:
    return _fixed(in_range(1e-6, high))


@dataclass(frozen=True)
class AxisLimits:
    minimum: float
    maximum: float
    max_velocity: float = 100.0
    max_acceleration: float = 400.0


class ESP300(LineInstrument):
    write_terminator = b"\r"
    read_terminator = b"\r\n"

    idn = measurement("*IDN?", str, "Measure the identity, like 'ESP300 Version 3.04 07/27/01'.")

    def __init__(
        self,
        transport: Transport,
        axes: Mapping[int, AxisLimits],
        *,
        position_query: PositionQuery = "TP?",
    ) -> None:
        super().__init__(transport)
        for number in axes:
            if number not in (1, 2, 3):
                raise ValueRefused(f"ESP300 axis numbers are 1 to 3, got {number}")
        self.position_query = position_query
        self.axes = {number: ESP300Axis(self, number, limits) for number, limits in axes.items()}

    def axis(self, number: int) -> ESP300Axis:
        try:
            return self.axes[number]
        except KeyError:
            known = ", ".join(map(str, sorted(self.axes)))
            raise ValueRefused(f"axis {number} is not configured (axes: {known})") from None

    def error_code(self) -> int:
        """Measure the oldest error in the queue (``TE?``); 0 when none."""
        return parse_int(self.ask("TE?"))

    def command(self, command: str) -> None:
        """Send a command, then read the error queue and raise what it reports."""
        with self.transport.lock:
            self.send(command)
            code = self.error_code()
        if code:
            raise InstrumentError(code, describe_esp300_error(code))

    def abort(self) -> None:
        """Stop every axis at once (``AB``)."""
        self.command("AB")


class ESP300Axis:
    motion_done = measurement("{axis}MD?", parse_digit_bool, "Measure whether motion is done.")
    units = measurement("{axis}SN?", parse_esp300_units, "Measure the axis' units (mm, deg, ...).")
    left_limit = measurement("{axis}SL?", parse_float, "Measure the left software limit.")
    right_limit = measurement("{axis}SR?", parse_float, "Measure the right software limit.")
    velocity = control(
        "{axis}VA?",
        "{axis}VA{value}",
        parse_float,
        lambda value, axis: _positive_fixed(axis.limits.max_velocity)(value, axis),
        "Control the velocity (units/s).",
    )
    acceleration = control(
        "{axis}AC?",
        "{axis}AC{value}",
        parse_float,
        lambda value, axis: _positive_fixed(axis.limits.max_acceleration)(value, axis),
        "Control the acceleration (units/s²).",
    )

    def __init__(self, controller: ESP300, number: int, limits: AxisLimits) -> None:
        self.controller = controller
        self.number = number
        self.limits = limits

    def template_fields(self) -> dict[str, object]:
        return {"axis": self.number}

    def ask(self, command: str) -> str:
        return self.controller.ask(command)

    def send(self, command: str) -> None:
        self.controller.command(command)

    @property
    def position(self) -> float:
        """Measure the actual position (``1TP`` or ``1TP?``, as configured)."""
        return parse_float(self.ask(f"{self.number}{self.controller.position_query}"))

    def check_target(self, target: float) -> str:
        """Refuse a target outside the software limits; return it as sent."""
        lo, hi = self.limits.minimum, self.limits.maximum
        try:
            in_range(lo, hi)(target, self)
        except ValueRefused as exc:
            raise ValueRefused(f"axis {self.number} position: {exc}") from None
        return format_fixed(target)

    def move_to(self, position: float) -> None:
        """Move to an absolute position (``PA``)."""
        self.send(f"{self.number}PA{self.check_target(position)}")

    def move_by(self, distance: float) -> None:
        """Move by a distance (``PR``); the resulting target must be within limits."""
        span = self.limits.maximum - self.limits.minimum
        try:
            in_range(-span, span)(distance, self)
        except ValueRefused as exc:
            raise ValueRefused(f"axis {self.number} distance: {exc}") from None
        self.check_target(self.position + distance)
        self.send(f"{self.number}PR{format_fixed(distance)}")

    def home(self, mode: int = 0) -> None:
        """Search for home (``OR``) with search mode 0-6."""
        if isinstance(mode, bool) or mode not in range(7):
            raise ValueRefused(f"home search mode must be 0 to 6, got {mode!r}")
        self.send(f"{self.number}OR{mode}")

    def stop(self) -> None:
        self.send(f"{self.number}ST")

    def motor_on(self) -> None:
        self.send(f"{self.number}MO")

    def motor_off(self) -> None:
        self.send(f"{self.number}MF")

    def wait_until_stopped(self, timeout: float, poll: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while not self.motion_done:
            if time.monotonic() > deadline:
                raise ReplyTimeout(f"axis {self.number} still moving after {timeout:g} s")
            time.sleep(poll)
