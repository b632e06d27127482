"""A simulated Newport 1830-C: readings follow the shared world; setters are silent."""

from __future__ import annotations

import math
import re

from daq.sim.framing import LineFramer
from daq.sim.world import World

_FILTER_READINGS = {1: 16, 2: 4, 3: 1}


def format_reading(value: float) -> str:
    """Like the meter: mantissa without a leading zero, signed exponent (``+.7500E-9``)."""
    if value == 0:
        return "+.0000E+0"
    exponent = math.floor(math.log10(abs(value))) + 1
    mantissa = value / 10**exponent
    sign = "-" if mantissa < 0 else "+"
    return f"{sign}{f'{abs(mantissa):.4f}'.lstrip('0')}E{exponent:+d}"


class PowerMeter1830CSim:
    def __init__(self, world: World, *, unit_codes: dict[str, int] | None = None) -> None:
        self.world = world
        self.codes = unit_codes or {"W": 1, "dB": 2, "dBm": 3, "REL": 4}
        self.settings = {"W": 800, "U": 1, "R": 0, "F": 3, "A": 0, "G": 1, "Z": 0}
        self.status_errors = 0
        self._framer = LineFramer()

    def feed(self, data: bytes, now: float) -> list[tuple[float, bytes]]:
        replies = []
        for line in self._framer.feed(data):
            reply = self.execute(line.strip(), now)
            if reply is not None:
                replies.append((0.0002, (reply + "\n").encode()))
        return replies

    def reading(self, now: float) -> float:
        watts = self.world.power_at_meter(now, _FILTER_READINGS[self.settings["F"]])
        if self.settings["A"]:
            watts /= 100
        unit = self.settings["U"]
        if unit == self.codes.get("dBm"):
            return 10 * math.log10(max(watts, 1e-15) / 1e-3)
        if unit == self.codes.get("dB"):
            return 10 * math.log10(max(watts, 1e-15))
        return watts

    def execute(self, command: str, now: float) -> str | None:
        match = re.fullmatch(r"([A-Z])(\?|\d+)", command)
        if not match:
            self.status_errors |= 2
            return None
        letter, arg = match.groups()
        if letter == "D" and arg == "?":
            return format_reading(self.reading(now))
        if letter == "Q" and arg == "?":
            byte, self.status_errors = 128 | self.status_errors, 0
            return str(byte)
        if letter not in self.settings:
            self.status_errors |= 2
            return None
        if arg == "?":
            return f"{self.settings[letter]:04d}" if letter == "W" else str(self.settings[letter])
        limits = {
            "W": (400, 1100),
            "U": (1, 4),
            "R": (0, 8),
            "F": (1, 3),
            "A": (0, 1),
            "G": (0, 1),
            "Z": (0, 1),
        }
        low, high = limits[letter]
        if not low <= int(arg) <= high:
            self.status_errors |= 1
            return None
        self.settings[letter] = int(arg)
        return None
