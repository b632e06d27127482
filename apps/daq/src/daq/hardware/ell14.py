"""Thorlabs ELL14 rotation mounts on an RS-485 bus: 9600 8N1, addresses 0-F.

A command is ``<address><cmd>[8 hex digits]`` with no terminator; a reply is
``<address><CMD><data>`` ending CR LF. Every mount on a bus shares the bus' transport and
so its lock: one transaction at a time. Pulses per revolution are read from each device
(``in``), never assumed.
"""

from __future__ import annotations

import math

from daq.hardware.errors import BadReply, InstrumentError, NotReady, ValueRefused
from daq.hardware.parsing import (
    Ell14Info,
    decode_signed_hex32,
    describe_ell14_status,
    encode_signed_hex32,
    parse_ell14_info,
)
from daq.hardware.transport import Transport

ADDRESSES = "0123456789ABCDEF"


def check_address(address: str) -> str:
    if not isinstance(address, str) or len(address) != 1 or address.upper() not in ADDRESSES:
        raise ValueRefused(f"ELL14 address must be one hex digit 0-F, got {address!r}")
    return address.upper()


class Ell14:
    def __init__(self, transport: Transport, address: str, *, move_timeout: float = 10.0) -> None:
        self.transport = transport
        self.address = check_address(address)
        self.move_timeout = move_timeout
        self.info: Ell14Info | None = None

    def transaction(
        self, command: str, data: str = "", timeout: float | None = None
    ) -> tuple[str, str]:
        """Send ``<address><command><data>``; return the reply's (CMD, data)."""
        raw = f"{self.address}{command}{data}".encode("ascii")
        with self.transport.lock:
            self.transport.write(raw)
            reply = self.transport.read_until(b"\r\n", timeout)
        try:
            text = reply.decode("ascii")
        except UnicodeDecodeError:
            raise BadReply(f"ELL14 {self.address}: reply is not ASCII: {reply!r}") from None
        if len(text) < 3 or text[0].upper() != self.address:
            raise BadReply(f"ELL14 {self.address}: unexpected reply {text!r}")
        return text[1:3], text[3:]

    def _expect(self, reply: tuple[str, str], kind: str) -> str:
        code, data = reply
        if code == "GS":
            status = int(data, 16) if data else -1
            if status != 0 or kind != "GS":
                raise InstrumentError(
                    status, f"ELL14 {self.address}: {describe_ell14_status(status)}"
                )
        if code != kind:
            raise BadReply(f"ELL14 {self.address}: expected {kind}, got {code}{data}")
        return data

    # --- identity and state -------------------------------------------------------------

    def identify(self) -> Ell14Info:
        """Measure the identity; keeps travel and pulses per revolution for conversions."""
        self.info = parse_ell14_info(self._expect(self.transaction("in"), "IN"))
        return self.info

    def status(self) -> int:
        """Measure the status code (0 ok; see parsing.ELL14_STATUS)."""
        data = self._expect(self.transaction("gs"), "GS")
        try:
            return int(data, 16)
        except ValueError:
            raise BadReply(f"ELL14 {self.address}: bad status {data!r}") from None

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
        return self._position_reply(self.transaction("gp"))

    # --- motion -------------------------------------------------------------------------

    def check_degrees(self, value: float, low: float, high: float, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ValueRefused(f"{what}: expected a number of degrees, got {value!r}")
        if not low <= value <= high:
            raise ValueRefused(f"{what}: {value:g} is outside {low:g} to {high:g} degrees")
        return float(value)

    def move_to(self, degrees: float) -> float:
        """Move to an absolute angle; returns the angle reached."""
        travel = self._info().travel
        self.check_degrees(degrees, 0, travel, "angle")
        data = encode_signed_hex32(self.degrees_to_pulses(degrees))
        return self._position_reply(self.transaction("ma", data, self.move_timeout))

    def move_by(self, degrees: float) -> float:
        travel = self._info().travel
        self.check_degrees(degrees, -travel, travel, "relative angle")
        data = encode_signed_hex32(self.degrees_to_pulses(degrees))
        return self._position_reply(self.transaction("mr", data, self.move_timeout))

    def home(self, clockwise: bool = True) -> float:
        return self._position_reply(
            self.transaction("ho", "0" if clockwise else "1", self.move_timeout)
        )

    @property
    def jog_step(self) -> float:
        """Control the jog step in degrees."""
        return self.pulses_to_degrees(
            decode_signed_hex32(self._expect(self.transaction("gj"), "GJ"))
        )

    @jog_step.setter
    def jog_step(self, degrees: float) -> None:
        travel = self._info().travel
        self.check_degrees(degrees, 0, travel, "jog step")
        data = encode_signed_hex32(self.degrees_to_pulses(degrees))
        self._expect(self.transaction("sj", data), "GS")

    def jog(self, forward: bool = True) -> float:
        return self._position_reply(
            self.transaction("fw" if forward else "bw", "", self.move_timeout)
        )
