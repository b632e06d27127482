"""A simulated shutter: a motor that moves the shutter between closed (0) and open (1)
in ``travel_s``, a limit switch at each end, and the faults real ones have: stuck (the
motor runs, nothing moves) and a limit switch that never trips.

It is driven either by two relay outputs on :class:`~dome.sim.lgpio.SimLgpio` (its limit
switches are inputs there), or by a simulated Shelly (:mod:`dome.sim.shelly`). Both
relays energised at once is recorded, not obeyed (the motor would get both phases).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from dome.sim.lgpio import SimLgpio


@dataclass
class ShutterFaults:
    stuck: bool = False
    open_limit_never_trips: bool = False
    closed_limit_never_trips: bool = False

    def update(self, **changes: Any) -> None:
        for name, value in changes.items():
            if name not in self.__dataclass_fields__:
                raise ValueError(f"unknown shutter fault {name!r}")
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, got {value!r}")
            setattr(self, name, value)


class SimShutterMechanism:
    def __init__(
        self, clock: Callable[[], float], travel_s: float = 20.0, position: float = 0.0
    ) -> None:
        self._clock = clock
        self.travel_s = travel_s
        self.position = position  # 0 closed .. 1 open
        self.faults = ShutterFaults()
        self._lock = threading.RLock()
        self._t = clock()
        self._opening = False
        self._closing = False
        self.both_on = 0

    def advance(self) -> None:
        with self._lock:
            now = self._clock()
            dt, self._t = now - self._t, now
            if dt <= 0 or self.faults.stuck or self._opening == self._closing:
                return
            step = dt / self.travel_s
            if self._opening:
                self.position = min(1.0, self.position + step)
            else:
                self.position = max(0.0, self.position - step)

    def set_motor(self, opening: bool, closing: bool) -> None:
        with self._lock:
            self.advance()
            if opening and closing:
                self.both_on += 1
            self._opening, self._closing = opening, closing

    def open_limit(self) -> bool:
        with self._lock:
            self.advance()
            return self.position >= 1.0 and not self.faults.open_limit_never_trips

    def closed_limit(self) -> bool:
        with self._lock:
            self.advance()
            return self.position <= 0.0 and not self.faults.closed_limit_never_trips

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self.advance()
            return {
                "position": self.position,
                "opening": self._opening,
                "closing": self._closing,
                "both_on": self.both_on,
                "faults": asdict(self.faults),
            }


def attach_to_gpio(
    mech: SimShutterMechanism,
    lg: SimLgpio,
    *,
    open_out: int,
    close_out: int,
    open_limit: int,
    closed_limit: int,
    relay_active_low: bool,
    limit_active_low: bool,
) -> None:
    """Wire the mechanism to relay outputs and limit inputs on the simulated gpiochip."""
    on = 0 if relay_active_low else 1

    def update() -> None:
        mech.set_motor(lg.level(open_out) == on, lg.level(close_out) == on)

    lg.after_write(open_out, update)
    lg.after_write(close_out, update)

    def level(active: Callable[[], bool]) -> Callable[[], int]:
        def read() -> int:
            pressed = active()
            return (0 if pressed else 1) if limit_active_low else (1 if pressed else 0)

        return read

    lg.attach_input(open_limit, level(mech.open_limit))
    lg.attach_input(closed_limit, level(mech.closed_limit))
