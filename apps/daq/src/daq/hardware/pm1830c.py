"""Newport 1830-C optical power meter: 9600 8N1, LF both ways, not SCPI.

Protocol facts, each checked against the manual and independent drivers:

- Setters (``W800``, ``U1``, ``F2``, ``A1``, ``R0``, ``Z1``, ``S``, ``C``, ``E0``) are not
  answered: the driver never reads after them. (Newport 1830-C manual, section 5; rust-daq
  easternanemone/rust-daq crates/daq-driver-newport/src/newport_1830c.rs @ bcad48b, "send
  config command"; Instrumental mabuchilab/Instrumental
  src/instrumental/drivers/powermeters/newport.py @ 6427283.)
- ``E0`` turns the RS-232 echo off; with echo on every command comes back before its
  answer (rust-daq newport_1830c.rs @ bcad48b sends ``E0`` first at connect). The driver
  sends it at connect and skips an echoed line in any case.
- ``Q?`` is the status byte: 1 parameter error, 2 command error, 4 saturated, 8 over-range,
  16 message available, 32 busy, 64 service request, 128 reading done; ``C`` clears it
  (manual p. 38 "Q? Status Byte Register query"; Instrumental newport.py @ 6427283, whose
  ``is_measurement_valid`` calls a saturated, over-range or busy reading invalid). So a
  reading is ``D?`` and then ``Q?``, and a reading with any of those bits set is not good.
- ``S`` stores the current reading as the reference of the dB and REL units (manual
  section 4.5.2 and 3.3.3; Instrumental ``store_reference``).
- Units: the manual's front panel cycles W, dB, dBm, REL, and numbers them 1-4 in that
  order; Instrumental's ``get_units`` agrees, while rust-daq (and Instrumental's own
  ``set_units``) swap dB and dBm. The numbering is a setting (``unit_codes``) whose
  default is the manual's, and the unit is set explicitly at connect.
- In W the reply is scientific (``5E-9``, ``+.75E-9``); in dB, dBm and REL a plain decimal
  (rust-daq docs/reference/instruments/newport_1830c_findings.md @ bcad48b). A W reading
  without an exponent (``0800``, a late ``W?``) is refused as a bad reply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from daq.core.errors import BadReply, ValueRefused
from daq.hardware.base import LineInstrument
from daq.hardware.parsing import describe_1830c_status, parse_digit_bool, parse_float, parse_int
from daq.hardware.properties import (
    boolean_as_digit,
    control,
    integer_in_range,
    measurement,
)
from daq.hardware.transport import Transport

DEFAULT_UNIT_CODES: Mapping[str, int] = {"W": 1, "dB": 2, "dBm": 3, "REL": 4}
"""The manual's numbering (front-panel order); rust-daq uses W 1, dBm 2, dB 3, REL 4."""

SATURATED, OVER_RANGE, BUSY = 4, 8, 32
NOT_GOOD = {SATURATED: "saturated", OVER_RANGE: "over-range", BUSY: "busy"}
_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def parse_watts_reading(text: str) -> float:
    """A W-units reading: scientific notation only (``5E-9``, ``+.75E-9``)."""
    if not _SCIENTIFIC.match(text.strip()):
        raise BadReply(f"expected a power in scientific notation, got {text!r}")
    return float(text)


def parse_status_byte(text: str) -> int:
    value = parse_int(text)
    if not 0 <= value <= 255:
        raise BadReply(f"status byte out of range: {text!r}")
    return value


def parse_wavelength(text: str) -> int:
    """``W?`` answers four digits (``0800``)."""
    if not re.fullmatch(r"\d{3,4}", text.strip()):
        raise BadReply(f"expected a wavelength of 3-4 digits, got {text!r}")
    return int(text)


@dataclass(frozen=True)
class MeterReading:
    value: float
    status: int
    """The ``Q?`` status byte read right after the value."""

    @property
    def flags(self) -> list[str]:
        """Why the reading is not good (empty when it is)."""
        return [name for bit, name in NOT_GOOD.items() if self.status & bit]


class PowerMeter1830C(LineInstrument):
    write_terminator = b"\n"
    read_terminator = b"\n"
    may_echo = True

    wavelength = control(
        "W?",
        "W{value}",
        parse_wavelength,
        lambda value, pm: integer_in_range(*pm.wavelength_range)(value, pm),
        "Control the calibration wavelength in nm.",
    )
    units_code = control(
        "U?", "U{value}", parse_int, integer_in_range(1, 4), "Control the units by number."
    )
    range = control(
        "R?", "R{value}", parse_int, integer_in_range(0, 8), "Control the range (0 auto, 1-8)."
    )
    filter = control(
        "F?",
        "F{value}",
        parse_int,
        integer_in_range(1, 3),
        "Control the filter: 1 slow (16 readings), 2 medium (4), 3 none.",
    )
    attenuator = control(
        "A?", "A{value}", parse_digit_bool, boolean_as_digit, "Control the attenuator."
    )
    running = control("G?", "G{value}", parse_digit_bool, boolean_as_digit, "Control go/hold.")
    zero = control("Z?", "Z{value}", parse_digit_bool, boolean_as_digit, "Control zeroing.")
    status_byte = measurement("Q?", parse_status_byte, "Measure the status byte.")

    def __init__(
        self,
        transport: Transport,
        *,
        wavelength_range: tuple[int, int] = (400, 1100),
        unit_codes: Mapping[str, int] = DEFAULT_UNIT_CODES,
    ) -> None:
        super().__init__(transport)
        self.wavelength_range = wavelength_range
        self.unit_codes = dict(unit_codes)
        self.unit_name = "W"
        """The unit last set; decides how a reading is parsed."""

    def echo_off(self) -> None:
        """``E0``: no echo of commands (the meter may have been left echoing). A meter that
        was echoing echoes the ``E0`` itself: let it arrive and drop it."""
        with self.transport.lock:
            self.send("E0")
            self.transport.settle(0.1)

    def set_units(self, name: str) -> None:
        if name not in self.unit_codes:
            raise ValueRefused(f"units: {name!r} is not one of {', '.join(self.unit_codes)}")
        self.units_code = self.unit_codes[name]
        self.unit_name = name

    @property
    def units(self) -> str:
        """Measure the units the meter shows (by this meter's numbering)."""
        code = self.units_code
        for name, value in self.unit_codes.items():
            if value == code:
                return name
        return f"code {code}"

    def _parse_reading(self, text: str) -> float:
        if self.unit_name == "W":
            return parse_watts_reading(text)
        return parse_float(text)

    @property
    def power(self) -> float:
        """Measure the power in the current units (value only; see :meth:`reading`)."""
        return self.query("D?", self._parse_reading)

    def reading(self) -> MeterReading:
        """Measure the power and the status byte right after it, in one held transaction:
        saturation and over-range travel with the value."""
        with self.transport.lock:
            value = self.power
            status = self.status_byte
            if status & (SATURATED | OVER_RANGE | 1 | 2):
                self.clear_status()  # the bits latch until cleared (manual p. 38)
        return MeterReading(value, status)

    def clear_status(self) -> None:
        """``C``: clear the status byte's latched bits."""
        self.send("C")

    def store_reference(self) -> None:
        """``S``: the current reading becomes the reference for dB and REL."""
        self.send("S")

    def status(self) -> list[str]:
        return describe_1830c_status(self.status_byte)

    # --- what core.interfaces.MeterDriver asks for -------------------------------------

    SETTINGS = ("wavelength", "range", "filter", "attenuator")

    def read_wavelength(self) -> int:
        return self.wavelength

    def read_settings(self) -> dict[str, object]:
        return {
            "wavelength_nm": self.wavelength,
            "range": self.range,
            "filter": self.filter,
            "attenuator": self.attenuator,
            "zero": self.zero,
        }

    def check_settings(self, changes: dict[str, object]) -> None:
        """Refuse any bad value before the first byte of any of them is sent."""
        for name, value in changes.items():
            if name == "units":
                if value not in self.unit_codes:
                    raise ValueRefused(
                        f"units: {value!r} has no code in this meter's configuration"
                    )
            elif name in self.SETTINGS:
                getattr(type(self), name).check(value, self)
            else:
                raise ValueRefused(f"{name}: not a setting of the 1830-C")

    def apply_settings(self, changes: dict[str, object]) -> None:
        self.check_settings(changes)
        with self.transport.lock:
            for name, value in changes.items():
                if name == "units":
                    self.set_units(str(value))
                else:
                    setattr(self, name, value)

    def set_zero(self, on: bool) -> None:
        self.zero = on
