"""The EMS22A absolute encoder: its 16-bit frame, and the narrow interface the control
loop reads it through.

Frame, MSB first: bits 15-6 the 10-bit position, bit 5 end of offset compensation (OCF,
1 once the encoder is ready), bit 4 CORDIC overflow, bit 3 linearity alarm, bit 2
magnitude increase, bit 1 magnitude decrease, bit 0 even parity over the whole word.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

COUNTS_PER_TURN = 1024

_OCF = 1 << 5
_COF = 1 << 4
_LIN = 1 << 3
_MAG_INC = 1 << 2
_MAG_DEC = 1 << 1


class FrameError(enum.Enum):
    """Why a frame is not a position; the values are the metric label."""

    PARITY = "parity"
    CORDIC_OVERFLOW = "cordic_overflow"
    LINEARITY_ALARM = "linearity_alarm"
    NOT_READY = "not_ready"
    TRANSPORT = "transport"


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: ``position`` is only meaningful when ``error`` is None."""

    raw: int
    position: int
    error: FrameError | None
    magnitude_increase: bool
    magnitude_decrease: bool

    @property
    def ok(self) -> bool:
        return self.error is None


def even_parity_ok(word: int) -> bool:
    """True when the 16-bit word holds an even number of ones (bit 0 makes it so)."""
    return (word & 0xFFFF).bit_count() % 2 == 0


def parse_frame(word: int) -> Frame:
    """Decode a 16-bit EMS22A frame.

    Parity is checked first: with a corrupted word none of the other bits can be trusted.
    Then the alarms that mean the angle is wrong (CORDIC overflow, linearity), then OCF.
    The magnitude bits only warn that the magnet moved and are passed on as they are.
    """
    if not 0 <= word <= 0xFFFF:
        raise ValueError(f"an EMS22A frame is 16 bits, got {word!r}")
    error: FrameError | None = None
    if not even_parity_ok(word):
        error = FrameError.PARITY
    elif word & _COF:
        error = FrameError.CORDIC_OVERFLOW
    elif word & _LIN:
        error = FrameError.LINEARITY_ALARM
    elif not word & _OCF:
        error = FrameError.NOT_READY
    return Frame(
        raw=word,
        position=word >> 6,
        error=error,
        magnitude_increase=bool(word & _MAG_INC),
        magnitude_decrease=bool(word & _MAG_DEC),
    )


def build_frame(
    position: int,
    *,
    ready: bool = True,
    cordic_overflow: bool = False,
    linearity_alarm: bool = False,
    magnitude_increase: bool = False,
    magnitude_decrease: bool = False,
    corrupt_parity: bool = False,
) -> int:
    """The word an EMS22A sends for ``position``; the simulator answers with these."""
    if not 0 <= position < COUNTS_PER_TURN:
        raise ValueError(f"position must be 0..1023, got {position}")
    word = position << 6
    word |= _OCF if ready else 0
    word |= _COF if cordic_overflow else 0
    word |= _LIN if linearity_alarm else 0
    word |= _MAG_INC if magnitude_increase else 0
    word |= _MAG_DEC if magnitude_decrease else 0
    if word.bit_count() % 2:
        word |= 1
    if corrupt_parity:
        word ^= 1
    return word


class Encoder(Protocol):
    """Read one raw frame; raises ``OSError`` when the transport fails."""

    def read_word(self) -> int: ...

    def close(self) -> None: ...


class SpiEncoder:
    """The EMS22A on spidev. ``spidev`` is imported here, lazily, so that machines without
    it (CI, laptops) can import the package and run the simulator."""

    MAX_SPEED_HZ = 1_000_000

    def __init__(self, bus: int, device: int, speed_hz: int, mode: int) -> None:
        if not 0 < speed_hz <= self.MAX_SPEED_HZ:
            raise ValueError(f"EMS22A clock must be at most 1 MHz, got {speed_hz} Hz")
        import spidev

        self._spi = spidev.SpiDev()
        self._spi.open(bus, device)
        self._spi.max_speed_hz = speed_hz
        self._spi.mode = mode

    def read_word(self) -> int:
        hi, lo = self._spi.xfer2([0, 0])
        return (int(hi) << 8) | int(lo)

    def close(self) -> None:
        self._spi.close()
