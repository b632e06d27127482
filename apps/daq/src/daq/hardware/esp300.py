"""Newport ESP300 motion controller: 19200 8N1, commands end CR, replies end CR LF.

Protocol facts and where they come from:

- ``TE?`` answers the oldest error code, one per call, 0 when the queue is empty; codes
  from 100 up are ``<axis><code>`` (pymeasure/pymeasure
  pymeasure/instruments/newport/esp300.py @ 32503b8: ``error``, ``clear_errors`` reads
  until 0; InstrumentKit src/instruments/newport/errors.py @ 9405b1e). The queue is
  drained at connect so an old error is never blamed on a new command, and read after
  every command that moves or sets something (InstrumentKit newportesp301.py
  ``_execute_cmd`` reads the error after each command) so an error is blamed on the
  command that caused it. The tables are in :mod:`daq.hardware.parsing`.
- ``<n>DP?`` is the desired (commanded) position, ``<n>TP``/``<n>TP?`` the actual one,
  ``<n>MD?`` 1 once motion is done (InstrumentKit newportesp301.py @ 9405b1e
  ``desired_position``; pymeasure esp300.py ``motion_done``).
- A relative move is sent as an absolute move to ``DP? + distance`` (``PA``), never as
  ``PR``: if the confirmation of a ``PR`` is lost and the command is sent again, the stage
  moves twice; ``PA`` to the same target is harmless to repeat.
- A move whose error check cannot be read is confirmed by reading ``DP?``: a controller
  that took the move reports the target as its desired position. Only if that fails too
  is the outcome reported as unknown; a move that was made is never reported as failed.

Moves are refused before any byte is sent when the target lies outside the axis' limits
(configuration narrowed to the controller's own ``SL?``/``SR?`` at connect).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from daq.core.errors import (
    BadReply,
    InstrumentError,
    NotReady,
    OutcomeUnknown,
    ReplyTimeout,
    ValueRefused,
)
from daq.hardware.base import LineInstrument
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
T = TypeVar("T")


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
        return self.query("TE?", parse_int)

    def clear_errors(self, limit: int = 32) -> list[int]:
        """Read ``TE?`` until it answers 0; returns the codes drained (oldest first)."""
        drained: list[int] = []
        with self.transport.lock:
            for _ in range(limit):
                code = self.error_code()
                if code == 0:
                    return drained
                drained.append(code)
        raise BadReply(f"error queue not empty after {limit} reads: {drained}")

    def identify(self) -> str:
        """Measure the identity and check it is an ESP300 (a distinctive answer, so a reply
        to another question can never pass)."""
        ident = self.ask("*IDN?")
        if not ident.upper().startswith("ESP"):
            raise BadReply(f"expected an ESP300 identity, got {ident!r}")
        return ident

    def command(self, command: str) -> None:
        """Send a command, then read the error queue and raise what it reports. If the
        error check itself fails, the command's effect is unknown, not failed."""
        with self.transport.lock:
            self.send(command)
            try:
                code = self.error_code()
            except (ReplyTimeout, BadReply) as exc:
                raise OutcomeUnknown(
                    f"{command!r} was sent but its error check failed: {exc}"
                ) from exc
        if code:
            raise InstrumentError(code, f"{describe_esp300_error(code)} (after {command!r})")

    def abort(self) -> None:
        """Stop every axis at once (``AB``)."""
        self.command("AB")

    def narrow_limits(self) -> list[str]:
        """Never offer a move the controller's own software limits would refuse: narrow each
        axis' configured travel to ``SL?``/``SR?``. Returns what was narrowed."""
        notes = []
        for axis in self.axes.values():
            left, right = axis.left_limit, axis.right_limit
            configured = axis.limits
            low, high = max(configured.minimum, left), min(configured.maximum, right)
            if (low, high) != (configured.minimum, configured.maximum) and low < high:
                notes.append(
                    f"axis {axis.number}: configured {configured.minimum:g}..{configured.maximum:g}"
                    f" narrowed to the controller's {left:g}..{right:g}"
                )
                axis.limits = AxisLimits(
                    low, high, configured.max_velocity, configured.max_acceleration
                )
        return notes


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

    def query(self, command: str, parse: Callable[[str], T]) -> T:
        return self.controller.query(command, parse)

    def send(self, command: str) -> None:
        self.controller.command(command)

    @property
    def position(self) -> float:
        """Measure the actual position (``1TP`` or ``1TP?``, as configured)."""
        return self.query(f"{self.number}{self.controller.position_query}", parse_float)

    @property
    def desired_position(self) -> float:
        """Measure the commanded position (``1DP?``)."""
        return self.query(f"{self.number}DP?", parse_float)

    def check_target(self, target: float) -> str:
        """Refuse a target outside the software limits; return it as sent."""
        lo, hi = self.limits.minimum, self.limits.maximum
        try:
            in_range(lo, hi)(target, self)
        except ValueRefused as exc:
            raise ValueRefused(f"axis {self.number} position: {exc}") from None
        return format_fixed(target)

    def move_to(self, position: float) -> float:
        """Move to an absolute position (``PA``); returns the target as sent. A lost error
        check is settled by the controller's desired position (see the module notes)."""
        text = self.check_target(position)
        target = float(text)
        with self.controller.transport.lock:
            try:
                self.send(f"{self.number}PA{text}")
            except OutcomeUnknown as lost:
                try:
                    desired = self.desired_position
                except (ReplyTimeout, BadReply):
                    raise lost from None
                if abs(desired - target) > 1e-6 * max(1.0, abs(target)):
                    raise lost from None
        return target

    def move_by(self, distance: float) -> float:
        """Move by a distance, sent as an absolute move to ``DP? + distance`` so that a
        repeated command cannot move twice; returns the target."""
        self.check_distance(distance)
        with self.controller.transport.lock:
            target = self.desired_position + distance
            self.check_target(target)
            return self.move_to(target)

    @property
    def travel(self) -> tuple[float, float]:
        return self.limits.minimum, self.limits.maximum

    def check_distance(self, distance: float) -> None:
        span = self.limits.maximum - self.limits.minimum
        try:
            in_range(-span, span)(distance, self)
        except ValueRefused as exc:
            raise ValueRefused(f"axis {self.number} distance: {exc}") from None

    def check_motion(self, velocity: float | None, acceleration: float | None) -> None:
        """Refuse either value before anything is sent (a bad acceleration leaves the
        velocity alone)."""
        if velocity is not None:
            ESP300Axis.velocity.check(velocity, self)
        if acceleration is not None:
            ESP300Axis.acceleration.check(acceleration, self)

    def set_motion(self, velocity: float | None, acceleration: float | None) -> None:
        self.check_motion(velocity, acceleration)
        if velocity is not None:
            self.velocity = velocity
        if acceleration is not None:
            self.acceleration = acceleration

    def motion(self) -> tuple[float, float]:
        return self.velocity, self.acceleration

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
                raise NotReady(f"axis {self.number} still moving after {timeout:g} s")
            time.sleep(poll)
