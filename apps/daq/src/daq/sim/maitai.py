"""A simulated MaiTai: a cold start, emission refused until warm, a lagging shutter, a
wavelength that tunes at a finite rate, and the pump watchdog.

From the sources cited in :mod:`daq.hardware.maitai` (not from our driver): a cold laser
reads warm-up 0 % until ``ON`` starts the warm-up; ``ON`` while warm-up is 1-99 % is an
execution error; ``ON`` at 100 % starts emission; ``*STB?`` bit 0 is emission, bit 1
modelocked; ``SHUT?`` follows a shutter command about a second late; ``TIM:WATC n``
switches the pump off after ``n`` s without a command.
"""

from __future__ import annotations

import math
import re
from collections import deque

from daq.sim.framing import LineFramer


class MaiTaiSim:
    def __init__(
        self,
        *,
        warmup_seconds: float = 2.0,
        shutter_lag: float = 1.0,
        warm: bool = False,
        tuning_rate: float = 200.0,
        started: float = 0.0,
        wavelength_range: tuple[int, int] = (690, 1040),
    ) -> None:
        self.warmup_seconds = warmup_seconds
        self.shutter_lag = shutter_lag
        self.tuning_rate = tuning_rate
        self.started = started
        self.minimum, self.maximum = wavelength_range
        self.emission = False
        self.shutter_command = False
        self.shutter_changed = -math.inf
        self.commanded = 800.0
        self.tune_from = 800.0
        self.tune_start = 0.0
        self.watchdog = 0.0
        self.last_command = started
        self.warmup_started: float | None = started if warm else None
        """When ``ON`` started the warm-up (``warm``: already warm at start)."""
        self.errors: deque[str] = deque(maxlen=10)
        self._framer = LineFramer()

    def warmup(self, now: float) -> float:
        if self.warmup_started is None:
            return 0.0
        if self.warmup_seconds <= 0:
            return 100.0
        return max(0.0, min(100.0, (now - self.warmup_started) / self.warmup_seconds * 100))

    def _check_watchdog(self, now: float) -> None:
        if self.emission and self.watchdog > 0 and now - self.last_command > self.watchdog:
            self.emission = False  # the pump goes off when the controller stops talking

    def shutter_open(self, now: float) -> bool:
        if now - self.shutter_changed >= self.shutter_lag:
            return self.shutter_command
        return not self.shutter_command

    def wavelength(self, now: float) -> float:
        span = self.commanded - self.tune_from
        done = (now - self.tune_start) * self.tuning_rate
        if done >= abs(span):
            return self.commanded
        return self.tune_from + math.copysign(done, span)

    def output(self, now: float) -> float:
        """Watts leaving the head: emission and an open shutter, less at the range ends."""
        self._check_watchdog(now)
        if not (self.emission and self.shutter_open(now)):
            return 0.0
        centre = (self.minimum + self.maximum) / 2
        return 3.0 * math.exp(-(((self.wavelength(now) - centre) / 300) ** 2))

    def feed(self, data: bytes, now: float) -> list[tuple[float, bytes]]:
        replies = []
        for line in self._framer.feed(data):
            self._check_watchdog(now)
            self.last_command = now
            reply = self.execute(line.strip(), now)
            if reply is not None:
                replies.append((0.0005, (reply + "\n").encode()))
        return replies

    def execute(self, command: str, now: float) -> str | None:
        upper = command.upper()
        if upper == "WAV?":
            return f"{self.commanded:.0f}nm"
        if upper == "READ:WAV?":
            return f"{self.wavelength(now):.0f}nm"
        if upper == "WAV:MIN?":
            return f"{self.minimum}nm"
        if upper == "WAV:MAX?":
            return f"{self.maximum}nm"
        if upper == "SHUT?":
            return "1" if self.shutter_open(now) else "0"
        if upper in ("READ:PCTW?", "READ:PCTWARMEDUP?"):
            return f"{self.warmup(now):06.2f}%"
        if upper == "*IDN?":
            return "Spectra Physics,MaiTai,3227/51054/40856,0245-2.00.34"
        if upper in ("TIM:WATC?", "TIMER:WATCHDOG?"):
            return f"{self.watchdog:g}"
        if upper == "READ:POW?":
            return f"{self.output(now) if self.emission else 0.0:.3f}W"
        if upper == "*STB?":
            self._check_watchdog(now)
            return str(int(self.emission) | (2 if self.emission else 0))
        if upper == "SYST:ERR?":
            return self.errors.popleft() if self.errors else "0 No error"
        if upper == "ON":
            warmup = self.warmup(now)
            if self.warmup_started is None:
                self.warmup_started = now  # from cold, ON starts the warm-up
            elif warmup < 100:
                self.errors.append("-200 Execution error: warming up")
            else:
                self.emission = True
            return None
        if upper == "OFF":
            self.emission = False
            return None
        match = re.fullmatch(r"(WAV|SHUT|TIM(?:ER)?:WATC(?:HDOG)?)\s+(\S+)", upper)
        if not match:
            self.errors.append(f'-100 Command error: "{command}"')
            return None
        name, arg = match.groups()
        try:
            value = float(arg)
        except ValueError:
            self.errors.append("-224 Illegal parameter value")
            return None
        if name == "WAV":
            if not self.minimum <= value <= self.maximum:
                self.errors.append("-222 Data out of range")
                return None
            self.tune_from, self.tune_start, self.commanded = self.wavelength(now), now, value
        elif name == "SHUT":
            if value not in (0, 1):
                self.errors.append("-222 Data out of range")
                return None
            if bool(value) != self.shutter_command:
                self.shutter_command, self.shutter_changed = bool(value), now
        else:
            self.watchdog = max(0.0, value)
        return None
