"""The faults the simulator can play, switched while it runs."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Fault(enum.StrEnum):
    NONE = "none"
    SLOW = "slow"  # answers correctly, after `delay` seconds
    HANG = "hang"  # reads the request, then never answers nor closes
    GARBAGE = "garbage"  # 200 with a body that is not the JSON the firmware sends
    ERROR = "error"  # HTTP 500
    RESET = "reset"  # reads the request, then resets the connection (TCP RST)
    DOWN = "down"  # stops listening: connections are refused


DEFAULT_SLOW_DELAY_SECONDS = 5.0


@dataclass(frozen=True)
class FaultState:
    fault: Fault = Fault.NONE
    delay_seconds: float = DEFAULT_SLOW_DELAY_SECONDS

    def __post_init__(self) -> None:
        if not 0 <= self.delay_seconds <= 3600:
            raise ValueError(f"delay must be between 0 and 3600 seconds, got {self.delay_seconds}")
