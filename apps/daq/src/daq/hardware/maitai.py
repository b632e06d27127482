"""Spectra-Physics MaiTai Ti:sapphire laser: replies end LF; commands end CR, LF or both.

Protocol facts and where they come from:

- ``*STB?`` bit 0 is emission (the laser is on), bit 1 modelocked
  (SWC-Advanced-Microscopy/BakingTray code/components/laser/maitai.m @ 4cc8044,
  ``emissionPossible`` and the modelock reply; rust-daq
  crates/daq-driver-spectra-physics/src/maitai.rs @ bcad48b, ``emission``).
- ``READ:PCTW?`` is warm-up in percent (``050%``, ``100.00%``; rust-daq
  docs/reference/instruments/maitai_command_inventory.md @ bcad48b). ``ON`` is refused by
  the driver below 100 % (BakingTray ``turnOn``), except from cold (0 %), where ``ON`` is
  what starts the warm-up: the start sequence is ``ON`` when cold, wait for 100 %, ``ON``
  again (issue 13; the same sequence in public lab scripts found with the search tool).
- ``ON`` only with the shutter closed (rust-daq maitai.rs ``set_emission`` refuses with the
  shutter open or unknown); ``ON``/``OFF`` do not move the shutter.
- ``SHUT?`` lags a command by about a second (BakingTray ``openShutter`` waits 0.75 s
  "because it takes the laser about a second to register the change"): a shutter command
  is confirmed by reading it back until it agrees.
- ``TIMer:WATChdog n`` switches the pump off after ``n`` s without a command, 0 disables;
  read back with ``TIM:WATC?`` (BakingTray ``setWatchDogTimer``).
- ``SYST:ERR?`` is read after every command so an error is blamed on the command that
  caused it. Its reply form is not confirmed by an independent source here; the parser
  takes ``<code> <message>`` and ``<code>, "<message>"``.
"""

from __future__ import annotations

import time
from typing import Literal

from daq.core.errors import (
    BadReply,
    InstrumentError,
    NotReady,
    OutcomeUnknown,
    ReplyTimeout,
    SafetyRefused,
    ValueRefused,
)
from daq.hardware.base import LineInstrument
from daq.hardware.parsing import (
    MaiTaiStatus,
    parse_digit_bool,
    parse_int,
    parse_maitai_error,
    parse_maitai_status,
    parse_nanometres,
    parse_percent,
    parse_watts,
)
from daq.hardware.properties import boolean_as_digit, integer_in_range, measurement
from daq.hardware.transport import Transport

Terminator = Literal["CR", "LF", "CRLF"]
TERMINATORS: dict[str, bytes] = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}
SHUTTER_CONFIRM_S = 3.0
"""How long a shutter command may take to show in ``SHUT?`` (about 1 s on the laser)."""


class MaiTai(LineInstrument):
    read_terminator = b"\n"

    wavelength = measurement("WAV?", parse_nanometres, "Measure the commanded wavelength (nm).")
    actual_wavelength = measurement("READ:WAV?", parse_nanometres, "Measure the wavelength (nm).")
    shutter_open = measurement("SHUT?", parse_digit_bool, "Measure the shutter (lags ~1 s).")
    warmup_percent = measurement("READ:PCTW?", parse_percent, "Measure warm-up, 0 to 100 %.")
    power = measurement("READ:POW?", parse_watts, "Measure the output power (W).")
    status = measurement("*STB?", parse_maitai_status, "Measure the status byte.")
    error = measurement("SYST:ERR?", parse_maitai_error, "Measure the oldest error.")
    watchdog = measurement("TIM:WATC?", parse_int, "Measure the watchdog time (s, 0 off).")
    minimum_wavelength = measurement("WAV:MIN?", parse_nanometres, "Measure the tuning minimum.")
    maximum_wavelength = measurement("WAV:MAX?", parse_nanometres, "Measure the tuning maximum.")

    def __init__(
        self,
        transport: Transport,
        *,
        terminator: Terminator = "LF",
        wavelength_range: tuple[int, int] = (690, 1040),
        shutter_confirm_s: float = SHUTTER_CONFIRM_S,
    ) -> None:
        super().__init__(transport)
        self.write_terminator = TERMINATORS[terminator]
        self.wavelength_range = wavelength_range
        self.shutter_confirm_s = shutter_confirm_s

    def identify(self) -> str:
        """Measure the identity; a distinctive answer, so a late reply cannot pass for it."""
        ident = self.ask("*IDN?")
        if "MAI" not in ident.upper().replace(" ", ""):
            raise BadReply(f"expected a MaiTai identity, got {ident!r}")
        return ident

    def command(self, command: str) -> None:
        """Send a command and read ``SYST:ERR?``: an error is raised against the command
        that caused it. A lost error check leaves the outcome unknown, not failed."""
        with self.transport.lock:
            self.send(command)
            try:
                code, message = self.error
            except (ReplyTimeout, BadReply) as exc:
                raise OutcomeUnknown(f"{command!r} was sent but SYST:ERR? failed: {exc}") from exc
        if code:
            raise InstrumentError(code, f"{message} (after {command!r})")

    def clear_errors(self, limit: int = 16) -> list[tuple[int, str]]:
        """Read ``SYST:ERR?`` until it reports none; returns what was drained."""
        drained: list[tuple[int, str]] = []
        with self.transport.lock:
            for _ in range(limit):
                code, message = self.error
                if code == 0:
                    return drained
                drained.append((code, message))
        raise BadReply(f"error queue not empty after {limit} reads: {drained}")

    def set_wavelength(self, nm: int) -> None:
        """Tune to ``nm`` (``WAV nm``); refused outside the laser's range before sending."""
        try:
            integer_in_range(*self.wavelength_range)(nm, self)
        except ValueRefused as exc:
            raise ValueRefused(f"wavelength: {exc}") from None
        self.command(f"WAV {nm}")

    def start_warmup(self) -> None:
        """From cold (warm-up 0 %), ``ON`` starts the warm-up; nothing is emitted yet."""
        with self.transport.lock:
            warmup = self.warmup_percent
            if warmup > 0:
                raise NotReady(f"laser is not cold (warm-up {warmup:g} %): no warm-up to start")
            self.command("ON")

    def emission_on(self) -> None:
        """Switch emission on (``ON``): only when fully warm and with the shutter closed."""
        with self.transport.lock:
            warmup = self.warmup_percent
            if warmup < 100:
                raise NotReady(f"laser is warming up ({warmup:g} %); emission refused")
            if self.shutter_open:
                raise SafetyRefused("emission refused: the shutter is open (close it first)")
            self.command("ON")

    def emission_off(self) -> None:
        self.command("OFF")

    def set_shutter(self, open_: bool) -> None:
        """Command the shutter and wait until ``SHUT?`` agrees (it lags about a second)."""
        value = boolean_as_digit(open_, self)
        self.command(f"SHUT {value}")
        deadline = time.monotonic() + self.shutter_confirm_s
        while self.shutter_open != open_:
            if time.monotonic() > deadline:
                raise OutcomeUnknown(
                    f"shutter commanded {'open' if open_ else 'closed'} but still reads "
                    f"{'closed' if open_ else 'open'} after {self.shutter_confirm_s:g} s"
                )
            time.sleep(0.1)

    def set_watchdog(self, seconds: int) -> None:
        """Pump off if no command arrives for ``seconds`` (0 disables); read back."""
        try:
            integer_in_range(0, 3600)(seconds, self)
        except ValueRefused as exc:
            raise ValueRefused(f"watchdog: {exc}") from None
        with self.transport.lock:
            self.command(f"TIM:WATC {seconds}")
            actual = self.watchdog
        if actual != seconds:
            raise InstrumentError(0, f"watchdog set to {seconds} s but reads {actual} s")

    # --- what core.interfaces.LaserDriver asks for -------------------------------------

    def read_status(self) -> MaiTaiStatus:
        return self.status

    def read_warmup(self) -> float:
        return self.warmup_percent

    def read_shutter(self) -> bool:
        return self.shutter_open

    def read_power(self) -> float:
        return self.power

    def read_wavelength(self) -> float:
        return self.actual_wavelength

    def read_commanded_wavelength(self) -> float:
        return self.wavelength

    def narrow_range(self) -> None:
        """The tuning range this laser reports wins over a wider configured one."""
        low = max(self.wavelength_range[0], round(self.minimum_wavelength))
        high = min(self.wavelength_range[1], round(self.maximum_wavelength))
        if low < high:
            self.wavelength_range = (low, high)
