"""Simulated ELL14 mounts sharing one RS-485 bus: several addresses, moves that take time
and answer when done, silence for addresses nobody has.

From the sources cited in :mod:`daq.hardware.ell14`: a move answers ``PO`` when done (or
``GS`` with an error code); ``gs`` answers ``GS09`` (busy) while the mount moves and a
fault code once, then 0; ``st`` stops and answers ``GS00``; ``sv``/``gv`` set and read the
velocity as a percentage in two hex digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from daq.hardware.parsing import decode_signed_hex32, encode_signed_hex32

PULSES_PER_REVOLUTION = 143360
_DATA_LENGTH = {"ma": 8, "mr": 8, "sj": 8, "so": 8, "ho": 1, "ca": 1, "sv": 2}


@dataclass
class SimMount:
    address: str
    serial: str
    pulses: int = 0
    jog: int = 0x0E00
    status: int = 0
    speed: float = 720.0
    """Degrees per second at 100 % velocity (a full turn in half a second)."""
    velocity: int = 100
    start_pulses: int = 0
    t0: float = 0.0
    t1: float = 0.0

    def degrees(self, now: float) -> float:
        position: float
        if now >= self.t1:
            position = self.pulses
        else:
            position = self.start_pulses + (self.pulses - self.start_pulses) * (now - self.t0) / (
                self.t1 - self.t0
            )
        return position * 360 / PULSES_PER_REVOLUTION

    def move(self, target: int, now: float) -> float:
        """Start a move; return how long it takes."""
        speed = self.speed * max(self.velocity, 1) / 100
        duration = abs(target - self.pulses) * 360 / PULSES_PER_REVOLUTION / speed
        self.start_pulses, self.pulses, self.t0, self.t1 = self.pulses, target, now, now + duration
        return duration

    def moving(self, now: float) -> bool:
        return now < self.t1

    def halt(self, now: float) -> None:
        here = round(self.degrees(now) * PULSES_PER_REVOLUTION / 360)
        self.start_pulses = self.pulses = here
        self.t0 = self.t1 = now


class Ell14BusSim:
    def __init__(self, addresses: list[str]) -> None:
        self.mounts = {
            a.upper(): SimMount(a.upper(), f"1140{i:04d}") for i, a in enumerate(addresses)
        }
        self._buffer = b""

    def feed(self, data: bytes, now: float) -> list[tuple[float, bytes]]:
        self._buffer += data
        replies: list[tuple[float, bytes]] = []
        busy_until = 0.0
        while len(self._buffer) >= 3:
            match = re.match(rb"([0-9A-F])([a-z]{2})", self._buffer)
            if not match:
                self._buffer = self._buffer[1:]  # resynchronise on noise
                continue
            address, command = match.group(1).decode(), match.group(2).decode()
            length = _DATA_LENGTH.get(command, 0)
            if len(self._buffer) < 3 + length:
                break
            data_text = self._buffer[3 : 3 + length].decode("ascii", errors="replace")
            self._buffer = self._buffer[3 + length :]
            mount = self.mounts.get(address)
            if mount is None:
                continue  # nobody on the bus answers
            work, reply = self.execute(mount, command, data_text, now + busy_until)
            busy_until += work
            if reply is not None:
                replies.append((busy_until + 0.001, f"{address}{reply}\r\n".encode()))
        return replies

    def execute(
        self, mount: SimMount, command: str, data: str, now: float
    ) -> tuple[float, str | None]:
        position = f"PO{encode_signed_hex32(mount.pulses)}"
        if command == "in":
            return 0.0, f"IN0E{mount.serial}20231701{360:04X}{PULSES_PER_REVOLUTION:08X}"
        if command == "gs":
            if mount.moving(now):
                return 0.0, "GS09"
            status, mount.status = mount.status, 0
            return 0.0, f"GS{status:02X}"
        if command == "st":
            mount.halt(now)
            return 0.0, "GS00"
        if command == "gv":
            return 0.0, f"GV{mount.velocity:02X}"
        if command == "sv":
            try:
                percent = int(data, 16)
            except ValueError:
                return 0.0, "GS03"
            if not 0 <= percent <= 100:
                return 0.0, "GS04"
            mount.velocity = percent
            return 0.0, "GS00"
        if command == "gp":
            return 0.0, position
        if command == "gj":
            return 0.0, f"GJ{encode_signed_hex32(mount.jog)}"
        if command in ("ma", "mr", "sj"):
            try:
                value = decode_signed_hex32(data)
            except ValueError:
                return 0.0, "GS03"
            if command == "sj":
                mount.jog = value
                return 0.0, "GS00"
            target = value if command == "ma" else mount.pulses + value
            if command == "ma" and not 0 <= target <= PULSES_PER_REVOLUTION:
                return 0.0, "GS04"
            target %= PULSES_PER_REVOLUTION if command == "mr" else PULSES_PER_REVOLUTION + 1
            duration = mount.move(target, now)
            return duration, f"PO{encode_signed_hex32(mount.pulses)}"
        if command == "ho":
            return mount.move(0, now), "PO00000000"
        if command in ("fw", "bw"):
            step = mount.jog if command == "fw" else -mount.jog
            duration = mount.move((mount.pulses + step) % PULSES_PER_REVOLUTION, now)
            return duration, f"PO{encode_signed_hex32(mount.pulses)}"
        return 0.0, "GS03"
