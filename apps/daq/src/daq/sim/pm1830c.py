"""A simulated Newport 1830-C: readings follow the shared world; setters are silent.

Written from the manual and independent drivers, not from our driver (sources in
:mod:`daq.hardware.pm1830c`): units numbered 1 W, 2 dB, 3 dBm, 4 REL by default (the
manual's order; another numbering can be given, as some units evidently use); dB and REL
relative to a reference that ``S`` stores (1 mW at power-up, manual section 3.3.3);
``Q?`` bits 1 parameter error, 2 command error, 4 saturated, 8 over-range, 128 reading
done, latched until ``C``; ``E1``/``E0`` echo on/off, echoing every command line.
"""

from __future__ import annotations

import math
import re

from daq.sim.framing import LineFramer
from daq.sim.world import World

_FILTER_READINGS = {1: 16, 2: 4, 3: 1}
SATURATION_W = 2e-3
"""The detector saturates above this without the attenuator (x100 with it)."""
RANGE_TOP_W = {r: 2e-3 / 10 ** (8 - r) for r in range(1, 9)}
"""Full scale of manual ranges 1-8 (a decade each); range 0 is auto."""


def format_reading(value: float) -> str:
    """Like the meter: mantissa without a leading zero, signed exponent (``+.7500E-9``)."""
    if value == 0:
        return "+.0000E+0"
    exponent = math.floor(math.log10(abs(value))) + 1
    mantissa = value / 10**exponent
    sign = "-" if mantissa < 0 else "+"
    return f"{sign}{f'{abs(mantissa):.4f}'.lstrip('0')}E{exponent:+d}"


class PowerMeter1830CSim:
    def __init__(
        self, world: World, *, unit_codes: dict[str, int] | None = None, echo: bool = False
    ) -> None:
        self.world = world
        self.codes = unit_codes or {"W": 1, "dB": 2, "dBm": 3, "REL": 4}
        self.settings = {"W": 800, "U": 1, "R": 0, "F": 3, "A": 0, "G": 1, "Z": 0}
        self.status_latched = 0
        self.reference_w = 1e-3
        self.zero_w = 0.0
        self.echo = echo
        self._framer = LineFramer()

    def feed(self, data: bytes, now: float) -> list[tuple[float, bytes]]:
        replies = []
        for line in self._framer.feed(data):
            if self.echo:
                replies.append((0.0, (line + "\n").encode()))
            reply = self.execute(line.strip(), now)
            if reply is not None:
                replies.append((0.0002, (reply + "\n").encode()))
        return replies

    def watts(self, now: float) -> float:
        """Watts on the detector, after the attenuator, as measured now."""
        watts = self.world.power_at_meter(now, _FILTER_READINGS[self.settings["F"]])
        limit = SATURATION_W * (100 if self.settings["A"] else 1)
        if watts > limit:
            self.status_latched |= 4
            watts = limit
        top = RANGE_TOP_W.get(self.settings["R"])
        if top is not None and watts > top * (100 if self.settings["A"] else 1):
            self.status_latched |= 8
        return watts - self.zero_w

    def reading(self, now: float) -> float:
        watts = self.watts(now)
        unit = self.settings["U"]
        if unit == self.codes.get("dBm"):
            return 10 * math.log10(max(watts, 1e-15) / 1e-3)
        if unit == self.codes.get("dB"):
            return 10 * math.log10(max(watts, 1e-15) / self.reference_w)
        if unit == self.codes.get("REL"):
            return watts / self.reference_w
        return watts

    def execute(self, command: str, now: float) -> str | None:
        if command == "S":
            self.reference_w = max(self.watts(now), 1e-15)
            return None
        if command == "C":
            self.status_latched = 0
            return None
        match = re.fullmatch(r"([A-Z])(\?|\d+)", command)
        if not match:
            self.status_latched |= 2
            return None
        letter, arg = match.groups()
        if letter == "D" and arg == "?":
            value = self.reading(now)
            unit = self.settings["U"]
            return format_reading(value) if unit == self.codes.get("W") else f"{value:.4f}"
        if letter == "Q" and arg == "?":
            return str(128 | self.status_latched)
        if letter == "E" and arg in ("0", "1"):
            self.echo = arg == "1"
            return None
        if letter not in self.settings:
            self.status_latched |= 2
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
            self.status_latched |= 1
            return None
        self.settings[letter] = int(arg)
        if letter == "Z":
            self.zero_w = self.world.power_at_meter(now) if int(arg) else 0.0
        return None
