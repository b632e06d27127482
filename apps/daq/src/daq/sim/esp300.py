"""A simulated ESP300: axes that take time to move, software limits, an error queue.

Written from the manual's command set as independent drivers use it, not from our driver:
``TE?`` pops one code per call (0 when empty) and codes from 100 up are
``<axis><code>`` (pymeasure pymeasure/instruments/newport/esp300.py @ 32503b8;
InstrumentKit src/instruments/newport/errors.py @ 9405b1e): x06/x07 positive/negative
software limit, x08 motor/stage not connected, x13 motor not enabled; general 6 command
does not exist, 7 parameter out of range, 37 axis number missing, 38 parameter missing.
``DP?`` answers the desired position (InstrumentKit newportesp301.py ``desired_position``);
``TP`` and ``TP?`` the actual one (both forms are used by drivers in the wild).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from daq.sim.framing import LineFramer

_COMMAND = re.compile(r"^(\d?)([A-Z]{2})(\??)(.*)$")
IDENTITY = "ESP300 Version 3.04 07/27/01"


@dataclass
class SimAxis:
    units: int = 2
    left: float = -25.0
    right: float = 25.0
    velocity: float = 20.0
    acceleration: float = 80.0
    start: float = 0.0
    target: float = 0.0
    t0: float = 0.0
    t1: float = 0.0
    motor: bool = True

    def position(self, now: float) -> float:
        if now >= self.t1:
            return self.target
        fraction = (now - self.t0) / (self.t1 - self.t0)
        return self.start + (self.target - self.start) * fraction

    def moving(self, now: float) -> bool:
        return now < self.t1

    def go(self, target: float, now: float) -> None:
        self.start = self.position(now)
        self.target = target
        self.t0 = now
        self.t1 = now + abs(target - self.start) / self.velocity

    def halt(self, now: float) -> None:
        here = self.position(now)
        self.start = self.target = here
        self.t0 = self.t1 = now


class ESP300Sim:
    def __init__(self, axes: dict[int, SimAxis] | None = None) -> None:
        self.axes = (
            axes
            if axes is not None
            else {1: SimAxis(), 2: SimAxis(units=7, left=0, right=360, velocity=90)}
        )
        self.errors: deque[int] = deque(maxlen=10)
        self._framer = LineFramer()

    def feed(self, data: bytes, now: float) -> list[tuple[float, bytes]]:
        replies: list[str] = []
        for line in self._framer.feed(data):
            for command in line.split(";"):
                reply = self.execute(command.strip(), now)
                if reply is not None:
                    replies.append(reply)
        return [(0.0005, (r + "\r\n").encode()) for r in replies]

    def _error(self, code: int) -> None:
        self.errors.append(code)

    def execute(self, command: str, now: float) -> str | None:
        if not command:
            return None
        if command == "*IDN?":
            return IDENTITY
        match = _COMMAND.match(command)
        if not match:
            self._error(6)
            return None
        axis_text, name, query, arg = match.groups()
        if name == "TE":
            return str(self.errors.popleft() if self.errors else 0)
        if name == "TB":
            code = self.errors.popleft() if self.errors else 0
            text = "ERROR" if code else "NO ERROR DETECTED"
            return f"{code}, {int(now * 1000) % 100000}, {text}"
        if name == "AB":
            for axis in self.axes.values():
                axis.halt(now)
            return None
        if name not in {
            "PA",
            "PR",
            "TP",
            "MD",
            "OR",
            "ST",
            "MO",
            "MF",
            "WS",
            "DH",
            "VA",
            "AC",
            "SL",
            "SR",
            "SN",
            "DP",
        }:
            self._error(6)
            return None
        if not axis_text:
            self._error(37)
            return None
        number = int(axis_text)
        if number not in self.axes:
            self._error(number * 100 + 8)
            return None
        return self._axis_command(self.axes[number], number, name, query, arg, now)

    def _axis_command(
        self, axis: SimAxis, number: int, name: str, query: str, arg: str, now: float
    ) -> str | None:
        value: float | None = None
        if arg and not query:
            try:
                value = float(arg)
            except ValueError:
                self._error(7)
                return None
        if name == "TP":
            return f"{axis.position(now):.5f}"
        if name == "DP":
            return f"{axis.target:.5f}"
        if name == "MD":
            return "0" if axis.moving(now) else "1"
        if query:
            answers = {
                "SN": str(axis.units),
                "SL": f"{axis.left:g}",
                "SR": f"{axis.right:g}",
                "VA": f"{axis.velocity:g}",
                "AC": f"{axis.acceleration:g}",
                "MO": "1" if axis.motor else "0",
            }
            if name in answers:
                return answers[name]
            self._error(6)
            return None
        if name in ("PA", "PR"):
            if value is None:
                self._error(38)
                return None
            target = value if name == "PA" else axis.target + value
            if target > axis.right:
                self._error(number * 100 + 6)  # positive software limit
                return None
            if target < axis.left:
                self._error(number * 100 + 7)  # negative software limit
                return None
            if not axis.motor:
                self._error(number * 100 + 13)  # motor not enabled
                return None
            axis.go(target, now)
        elif name == "OR":
            axis.go(0.0, now)
        elif name == "ST":
            axis.halt(now)
        elif name == "MO":
            axis.motor = True
        elif name == "MF":
            axis.halt(now)
            axis.motor = False
        elif name == "DH":
            axis.halt(now)
            axis.start = axis.target = value or 0.0
        elif name in ("VA", "AC"):
            if value is None or value <= 0:
                self._error(7)
                return None
            setattr(axis, "velocity" if name == "VA" else "acceleration", value)
        return None
