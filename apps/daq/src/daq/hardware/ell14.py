"""Thorlabs ELL14 rotation mounts on an RS-485 bus: 9600 8N1, addresses 0-F.

A command is ``<address><cmd>[data]`` with no terminator; a reply is
``<address><CMD><data>`` ending CR LF. Every mount on a bus shares the bus' transport and
so its lock: one transaction at a time. Pulses per revolution are read from each device
(``in``), never assumed.

Because a reply names its address and command, a reply is matched to its question: lines
from another address or with another command (a late reply to an earlier move, a
``BO``/``BS`` message a mount sends on its own) are dropped and counted, never taken as the
answer. Facts, and where they come from:

- replies and data lengths: ``IN`` 30, ``GS`` 2, ``PO`` 8, ``GJ`` 8, ``GV`` 2; ``BO``/``BS``
  can arrive unasked; a move answers ``PO`` when done or ``GS`` on error; ``sv``/``gv``
  velocity as a percentage in two hex digits (AlexShkarin/pyLabLib
  pylablib/devices/Thorlabs/elliptec.py @ v1.4.4, ``_default_data_lengths``,
  ``set_velocity``, ``move_to``; it drains the input before each query and checks the
  reply's address and command).
- ``st`` stops motion and answers ``GS`` (easternanemone/rust-daq
  crates/daq-driver-thorlabs/src/ell14.rs @ bcad48b ``stop`` and
  docs/reference/instruments/elliptec-protocol.md).
- status codes 0-0D (roesel/elliptec src/elliptec/errcodes.py @ 5f86ca5, the ``elliptec``
  package; pyLabLib ``_status_codes``; rust-daq ``Ell14StatusCode``): see
  :data:`daq.hardware.parsing.ELL14_STATUS`. A fault status is reported once and cleared
  by reading it (pyLabLib ``_parse_status``).
"""

from __future__ import annotations

import math
import time

from daq.core.errors import BadReply, InstrumentError, NotReady, ReplyTimeout, ValueRefused
from daq.hardware.parsing import (
    Ell14Info,
    decode_signed_hex32,
    describe_ell14_status,
    encode_signed_hex32,
    parse_ell14_info,
)
from daq.hardware.transport import Transport
from labkit.logs import get_logger

log = get_logger(__name__)
ADDRESSES = "0123456789ABCDEF"
BUSY = 9


def check_address(address: str) -> str:
    if not isinstance(address, str) or len(address) != 1 or address.upper() not in ADDRESSES:
        raise ValueRefused(f"ELL14 address must be one hex digit 0-F, got {address!r}")
    return address.upper()


class Ell14:
    def __init__(
        self,
        transport: Transport,
        address: str,
        *,
        move_timeout: float = 10.0,
        reply_timeout: float = 1.0,
    ) -> None:
        self.transport = transport
        self.address = check_address(address)
        self.move_timeout = move_timeout
        self.reply_timeout = reply_timeout
        self.info: Ell14Info | None = None
        self.unmatched: list[str] = []
        """Well-formed replies dropped because they answered another question."""
        self.stale_bytes = 0

    def transaction(
        self,
        command: str,
        data: str = "",
        expect: tuple[str, ...] = (),
        timeout: float | None = None,
    ) -> tuple[str, str]:
        """Send ``<address><command><data>``; return the first reply from this address
        whose code is one of ``expect`` (or ``GS``) as (CODE, data)."""
        raw = f"{self.address}{command}{data}".encode("ascii")
        accepted = {*expect, "GS"}
        with self.transport.lock:
            dropped = self.transport.discard_input()
            if dropped:
                self.stale_bytes += dropped
                log.warning("dropped unread bus input", address=self.address, bytes=dropped)
            self.transport.write(raw)
            wait = self.reply_timeout if timeout is None else timeout
            deadline = time.monotonic() + wait
            bad: list[str] = []
            try:
                while True:
                    try:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise ReplyTimeout(f"ELL14 {self.address}: no reply to {command!r}")
                        line = self.transport.read_until(b"\r\n", remaining)
                    except ReplyTimeout as exc:
                        if bad:
                            raise BadReply(
                                f"ELL14 {self.address}: no reply to {command!r}, only {bad}"
                            ) from exc
                        raise
                    if line.startswith(raw):
                        # a 2-wire RS-485 adapter hears its own transmission: the echo of
                        # the command, unterminated, runs into the reply
                        line = line[len(raw) :]
                    reply = self._match(line, accepted, bad)
                    if reply is not None:
                        return reply
            except (ReplyTimeout, BadReply):
                # a reply that comes after all is dropped here, not read by the next question
                self.transport.settle(wait)
                raise

    def _match(self, line: bytes, accepted: set[str], bad: list[str]) -> tuple[str, str] | None:
        """The reply if it answers this question; anything else (another address, another
        command, a torn or garbled line) is dropped and counted, and the wait goes on."""
        text = line.decode("ascii", errors="replace")
        well_formed = (
            len(text) >= 3
            and line.isascii()
            and text[0].upper() in ADDRESSES
            and text[1:3].isalpha()
        )
        if not well_formed:
            bad.append(text)
            self.unmatched.append(text)
            log.warning("dropped a malformed bus reply", address=self.address, reply=repr(line))
            return None
        address, code, data = text[0].upper(), text[1:3].upper(), text[3:]
        if address == self.address and code in accepted:
            return code, data
        self.unmatched.append(text)
        log.warning("dropped a reply to another question", address=self.address, reply=text)
        return None

    def _expect(self, reply: tuple[str, str], kind: str) -> str:
        code, data = reply
        if code == "GS":
            status = self._status_code(data)
            if status != 0 or kind != "GS":
                raise InstrumentError(
                    status, f"ELL14 {self.address}: {describe_ell14_status(status)}"
                )
        if code != kind:
            raise BadReply(f"ELL14 {self.address}: expected {kind}, got {code}{data}")
        return data

    def _status_code(self, data: str) -> int:
        if len(data) != 2:
            raise BadReply(f"ELL14 {self.address}: bad status {data!r}")
        try:
            return int(data, 16)
        except ValueError:
            raise BadReply(f"ELL14 {self.address}: bad status {data!r}") from None

    # --- identity and state -------------------------------------------------------------

    def identify(self) -> Ell14Info:
        """Measure the identity; keeps travel and pulses per revolution for conversions."""
        self.info = parse_ell14_info(self._expect(self.transaction("in", expect=("IN",)), "IN"))
        return self.info

    def status(self) -> int:
        """Measure the status code (0 ok, 9 busy; see parsing.ELL14_STATUS). Reading it
        clears a fault, which is why a fault is raised only by the command it follows."""
        _code, data = self.transaction("gs")
        return self._status_code(data)

    def wait_idle(self, timeout: float) -> int:
        """Poll ``gs`` until the mount is not busy; returns the last status."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status != BUSY:
                return status
            if time.monotonic() > deadline:
                raise NotReady(f"ELL14 {self.address}: still busy after {timeout:g} s")
            time.sleep(0.05)

    def _info(self) -> Ell14Info:
        if self.info is None:
            raise NotReady(f"ELL14 {self.address}: not identified yet")
        return self.info

    def pulses_to_degrees(self, pulses: int) -> float:
        info = self._info()
        return pulses * info.travel / info.pulses_per_unit

    def degrees_to_pulses(self, degrees: float) -> int:
        info = self._info()
        return round(degrees * info.pulses_per_unit / info.travel)

    def _position_reply(self, reply: tuple[str, str]) -> float:
        return self.pulses_to_degrees(decode_signed_hex32(self._expect(reply, "PO")))

    @property
    def angle(self) -> float:
        """Measure the angle in degrees."""
        self._info()
        return self._position_reply(self.transaction("gp", expect=("PO",)))

    # --- motion -------------------------------------------------------------------------

    def check_degrees(self, value: float, low: float, high: float, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ValueRefused(f"{what}: expected a number of degrees, got {value!r}")
        if not low <= value <= high:
            raise ValueRefused(f"{what}: {value:g} is outside {low:g} to {high:g} degrees")
        return float(value)

    def _move(self, command: str, data: str) -> float:
        return self._position_reply(
            self.transaction(command, data, expect=("PO",), timeout=self.move_timeout)
        )

    def move_to(self, degrees: float) -> float:
        """Move to an absolute angle; returns the angle reached."""
        travel = self._info().travel
        self.check_degrees(degrees, 0, travel, "angle")
        return self._move("ma", encode_signed_hex32(self.degrees_to_pulses(degrees)))

    def move_by(self, degrees: float) -> float:
        travel = self._info().travel
        self.check_degrees(degrees, -travel, travel, "relative angle")
        return self._move("mr", encode_signed_hex32(self.degrees_to_pulses(degrees)))

    def home(self, clockwise: bool = True) -> float:
        return self._move("ho", "0" if clockwise else "1")

    def stop(self) -> None:
        """Stop any motion (``st``)."""
        self._expect(self.transaction("st"), "GS")

    @property
    def velocity(self) -> int:
        """Control the velocity as a percentage of the maximum (``gv``/``sv``)."""
        data = self._expect(self.transaction("gv", expect=("GV",)), "GV")
        try:
            return int(data, 16)
        except ValueError:
            raise BadReply(f"ELL14 {self.address}: bad velocity {data!r}") from None

    @velocity.setter
    def velocity(self, percent: int) -> None:
        self._expect(self.transaction("sv", self.check_velocity(percent)), "GS")

    @staticmethod
    def check_velocity(percent: int) -> str:
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise ValueRefused(f"velocity: expected a whole percentage 0 to 100, got {percent!r}")
        return f"{percent:02X}"

    @property
    def jog_step(self) -> float:
        """Control the jog step in degrees."""
        return self.pulses_to_degrees(
            decode_signed_hex32(self._expect(self.transaction("gj", expect=("GJ",)), "GJ"))
        )

    @jog_step.setter
    def jog_step(self, degrees: float) -> None:
        travel = self._info().travel
        self.check_degrees(degrees, 0, travel, "jog step")
        data = encode_signed_hex32(self.degrees_to_pulses(degrees))
        self._expect(self.transaction("sj", data), "GS")

    def jog(self, forward: bool = True) -> float:
        return self._move("fw" if forward else "bw", "")

    # --- what core.interfaces.MountDriver asks for -------------------------------------

    def set_jog_step(self, degrees: float) -> None:
        self.jog_step = degrees

    def set_velocity(self, percent: int) -> None:
        self.velocity = percent

    def read_velocity(self) -> int:
        return self.velocity
