"""The optical bench the simulators share: laser → half-wave plate on an ELL14 → polariser
→ power meter. The meter reads the laser's output through Malus' law on twice the plate
angle, so a scan of the mount traces cos²(2θ) and switching the laser off darkens it."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class World:
    laser_output: Callable[[float], float] = lambda now: 0.0
    """Watts leaving the laser at time ``now`` (0 when off or the shutter is closed)."""
    plate_angle: Callable[[float], float] = lambda now: 0.0
    """Degrees of the half-wave plate at time ``now``."""
    coupling: float = 1e-4
    """Fraction of the laser power that reaches the meter with the plate aligned."""
    dark: float = 2e-9
    noise: float = 0.001
    lock: threading.Lock = field(default_factory=threading.Lock)

    def power_at_meter(self, now: float, averaged_readings: int = 1) -> float:
        transmitted = math.cos(math.radians(2 * self.plate_angle(now))) ** 2
        signal = self.laser_output(now) * self.coupling * transmitted
        spread = self.noise / math.sqrt(averaged_readings)
        return max(0.0, (signal + self.dark) * (1 + random.gauss(0, spread)))
