"""Newport 1830-C optical power meter: 9600 8N1, LF both ways, not SCPI.

Setters are not answered: the driver never reads after them. The numbering of units
differs between sources, so it comes from configuration and the unit is set at start.
"""

from __future__ import annotations

from collections.abc import Mapping

from daq.hardware.base import LineInstrument
from daq.hardware.errors import ValueRefused
from daq.hardware.parsing import describe_1830c_status, parse_digit_bool, parse_float, parse_int
from daq.hardware.properties import (
    boolean_as_digit,
    control,
    integer_in_range,
    measurement,
)
from daq.hardware.transport import Transport

DEFAULT_UNIT_CODES: Mapping[str, int] = {"W": 1, "dB": 2, "dBm": 3, "REL": 4}


class PowerMeter1830C(LineInstrument):
    write_terminator = b"\n"
    read_terminator = b"\n"

    power = measurement("D?", parse_float, "Measure the power in the current units.")
    wavelength = control(
        "W?",
        "W{value}",
        parse_int,
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
    status_byte = measurement("Q?", parse_int, "Measure the status byte.")

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

    def set_units(self, name: str) -> None:
        if name not in self.unit_codes:
            raise ValueRefused(f"units: {name!r} is not one of {', '.join(self.unit_codes)}")
        self.units_code = self.unit_codes[name]

    @property
    def units(self) -> str:
        code = self.units_code
        for name, value in self.unit_codes.items():
            if value == code:
                return name
        return f"code {code}"

    def status(self) -> list[str]:
        return describe_1830c_status(self.status_byte)
