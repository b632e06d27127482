"""Spectra-Physics MaiTai Ti:sapphire laser: replies end LF; commands end CR, LF or both.

The laser only speaks when asked. ``ON`` during warm-up is an execution error on the
laser; the driver reads the warm-up first and refuses with :class:`NotReady` instead, so
nothing is sent. Safety policy (confirmation, interlock) lives in ``core``, not here.
"""

from __future__ import annotations

from typing import Literal

from daq.hardware.base import LineInstrument
from daq.hardware.errors import NotReady, ValueRefused
from daq.hardware.parsing import (
    MaiTaiStatus,
    parse_digit_bool,
    parse_maitai_error,
    parse_maitai_status,
    parse_nanometres,
    parse_percent,
    parse_watts,
)
from daq.hardware.properties import boolean_as_digit, control, integer_in_range, measurement
from daq.hardware.transport import Transport

Terminator = Literal["CR", "LF", "CRLF"]
TERMINATORS: dict[str, bytes] = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}


class MaiTai(LineInstrument):
    read_terminator = b"\n"

    wavelength = control(
        "WAV?",
        "WAV {value}",
        parse_nanometres,
        lambda value, laser: integer_in_range(*laser.wavelength_range)(value, laser),
        "Control the commanded wavelength in nm.",
    )
    actual_wavelength = measurement("READ:WAV?", parse_nanometres, "Measure the wavelength (nm).")
    shutter_open = control(
        "SHUT?", "SHUT {value}", parse_digit_bool, boolean_as_digit, "Control the shutter."
    )
    warmup_percent = measurement("READ:PCTW?", parse_percent, "Measure warm-up, 0 to 100 %.")
    power = measurement("READ:POW?", parse_watts, "Measure the output power (W).")
    status = measurement("*STB?", parse_maitai_status, "Measure the status byte.")
    error = measurement("SYST:ERR?", parse_maitai_error, "Measure the oldest error.")
    minimum_wavelength = measurement("WAV:MIN?", parse_nanometres, "Measure the tuning minimum.")
    maximum_wavelength = measurement("WAV:MAX?", parse_nanometres, "Measure the tuning maximum.")

    def __init__(
        self,
        transport: Transport,
        *,
        terminator: Terminator = "LF",
        wavelength_range: tuple[int, int] = (690, 1040),
    ) -> None:
        super().__init__(transport)
        self.write_terminator = TERMINATORS[terminator]
        self.wavelength_range = wavelength_range

    def emission_on(self) -> None:
        """Switch the pump on (``ON``); refused while warm-up is below 100 %."""
        with self.transport.lock:
            warmup = self.warmup_percent
            if warmup < 100:
                raise NotReady(f"laser is warming up ({warmup:g} %); emission refused")
            self.send("ON")

    def emission_off(self) -> None:
        self.send("OFF")

    def set_watchdog(self, seconds: int) -> None:
        """Pump off if no command arrives for ``seconds`` (0 disables)."""
        try:
            integer_in_range(0, 3600)(seconds, self)
        except ValueRefused as exc:
            raise ValueRefused(f"watchdog: {exc}") from None
        self.send(f"TIM:WATC {seconds}")

    def read_status(self) -> MaiTaiStatus:
        return self.status
