"""What the domain needs from the hardware, as narrow interfaces the drivers implement.

``core`` never imports a driver: ``hardware/`` (lgpio, spidev, HTTP relays, Alpaca
clients) and ``sim/`` implement these protocols, and ``control/process.py`` wires one
or the other in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class DirectionChangeError(RuntimeError):
    """DIR may only change once every queued pulse has gone out (the driver samples DIR on
    each pulse edge). The controller waits for the queue to drain before it asks; a
    stepper that still refuses is waited for again, never a reason to stop the loop."""


class QueueFullError(RuntimeError):
    """The pulse engine has no room for another segment now."""


@dataclass(frozen=True, slots=True)
class Segment:
    """``steps`` pulses at ``rate_hz`` in ``direction`` (+1 / -1 as the DIR line says)."""

    direction: int
    rate_hz: float
    steps: int

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ValueError(f"direction must be +1 or -1, got {self.direction}")
        if not self.rate_hz > 0:
            raise ValueError(f"rate must be positive, got {self.rate_hz}")
        if self.steps <= 0:
            raise ValueError(f"steps must be positive, got {self.steps}")

    @property
    def duration(self) -> float:
        return self.steps / self.rate_hz


class Stepper(Protocol):
    """A pulse engine that times the step pulses itself (lgpio's transmit thread)."""

    def queue(self, segment: Segment) -> None:
        """Append pulses after those already queued. Raises :class:`DirectionChangeError`
        if the direction differs from pulses still queued, :class:`QueueFullError` if
        there is no room."""

    def busy(self) -> bool:
        """Pulses queued or still going out, as the pulse engine itself reports it."""

    def room(self) -> int:
        """Segments that may still be queued now."""

    def emitted_steps(self) -> int:
        """Signed count of the pulses sent since the stepper was opened: exact for the
        segments the engine reports done, an under-estimate for the one playing."""

    def flush(self) -> None:
        """Stop now: drop everything queued (abort)."""

    def close(self) -> None: ...


class FrameError(enum.Enum):
    """Why an encoder reading is not a position; the values are the metric label."""

    PARITY = "parity"
    CORDIC_OVERFLOW = "cordic_overflow"
    LINEARITY_ALARM = "linearity_alarm"
    NOT_READY = "not_ready"
    TRANSPORT = "transport"


@dataclass(frozen=True, slots=True)
class EncoderSample:
    """One reading: ``counts`` (0 .. counts_per_turn-1) when good, else ``error``."""

    counts: int | None
    error: FrameError | None = None


class Encoder(Protocol):
    """An absolute encoder on the drive, read once per control period."""

    counts_per_turn: int

    def read(self) -> EncoderSample: ...

    def close(self) -> None: ...


class DigitalInput(Protocol):
    """A switch (home switch, shutter limit, rain sensor): ``True`` when active, after
    the configured polarity. Raises ``OSError`` when it cannot be read."""

    def active(self) -> bool: ...

    def close(self) -> None: ...


class ShutterMotion(enum.Enum):
    STOP = "stop"
    OPEN = "open"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class ShutterLimits:
    open: bool
    closed: bool


class ShutterDrive(Protocol):
    """The shutter motor's two outputs and its two limit switches.

    ``drive`` takes one motion, so both outputs can never be asked for at once; an
    implementation switches the other output off before it switches one on. Every
    method raises ``OSError`` when the device cannot be reached."""

    def drive(self, motion: ShutterMotion) -> None: ...

    def limits(self) -> ShutterLimits: ...

    def close(self) -> None: ...


class SafetySource(Protocol):
    """Weather/safety: ``True`` when safe to open. Raises ``OSError`` (or any
    ``Exception``) when the source cannot be read: the caller counts that as unsafe."""

    name: str

    def is_safe(self) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class MountReading:
    """What a telescope reports: where it points and on which side of the pier."""

    altitude_deg: float
    azimuth_deg: float
    ra_hours: float
    dec_deg: float
    side_of_pier: str | None  # "east", "west" or None (unknown)


class Mount(Protocol):
    """A telescope the dome can follow (ASCOM Alpaca Telescope). Raises on loss."""

    name: str

    def read(self) -> MountReading: ...

    def close(self) -> None: ...
