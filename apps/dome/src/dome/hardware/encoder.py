"""The EMS22A absolute encoder: its 16-bit frame, and the narrow interface the control
loop reads it through.

Frame, MSB first: bits 15-6 the 10-bit position, bit 5 end of offset compensation (OCF,
1 once the encoder is ready), bit 4 CORDIC overflow, bit 3 linearity alarm, bit 2
magnitude increase, bit 1 magnitude decrease, bit 0 even parity over the whole word.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dome.core.ports import EncoderSample, FrameError

COUNTS_PER_TURN = 1024

_OCF = 1 << 5
_COF = 1 << 4
_LIN = 1 << 3
_MAG_INC = 1 << 2
_MAG_DEC = 1 << 1


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


# Clock edges before D9 in a transfer, by SPI mode. The EMS22A drives DO on the rising
# edge of CLK and the datasheet's timing diagram idles CLK high; D9 appears after the
# first rising edge (see the README). Mode 1 (idle low, sample on the falling edge) reads
# D9 on the first sampling edge; mode 0 samples on the rising edge, the edge the
# encoder changes DO on, so its first sample is the level before D9. DriftApp, the
# observatory's own reader, runs mode 0 and takes ``(b0 & 0x3F) << 4 | b1 >> 4`` of a
# 2-byte transfer: bits 13..4 of a word whose D9 is at bit 14, i.e. twice the count rate,
# which its empirical CALIBRATION_FACTOR (0.010851 = 50/2303 / 2) absorbs. Hence one
# leading bit in mode 0. Modes 2 and 3 are refused: nothing here shows how they frame.
LEADING_BITS = {0: 1, 1: 0}


def frame_from_transfer(data: list[int] | bytes, mode: int) -> int:
    """The 16-bit frame inside a 3-byte (24 clock) transfer made in SPI ``mode``."""
    if len(data) != 3:
        raise ValueError(f"expected a 3-byte transfer, got {len(data)} bytes")
    word = (int(data[0]) << 16) | (int(data[1]) << 8) | int(data[2])
    return (word >> (8 - LEADING_BITS[mode])) & 0xFFFF


class SpiEncoder:
    """The EMS22A on spidev. 24 clocks per read, so the whole frame (parity included)
    arrives whatever the leading bits of the mode; the frame is then checked as usual,
    so a wrong ``DOME_SPI_MODE`` shows at once as parity errors, never as a position.

    ``spi`` is a ``spidev.SpiDev`` (opened by :func:`open_spidev`) or the simulator's."""

    MAX_SPEED_HZ = 1_000_000

    def __init__(self, spi: Any, mode: int, counts_per_turn: int = COUNTS_PER_TURN) -> None:
        if mode not in LEADING_BITS:
            raise ValueError(f"SPI mode must be 0 or 1 for the EMS22A, got {mode}")
        self._spi = spi
        self._mode = mode
        self.counts_per_turn = counts_per_turn

    def read(self) -> EncoderSample:
        try:
            data = self._spi.xfer2([0, 0, 0])
        except OSError:
            return EncoderSample(None, FrameError.TRANSPORT)
        frame = parse_frame(frame_from_transfer(data, self._mode))
        if frame.error is not None:
            return EncoderSample(None, frame.error)
        return EncoderSample(frame.position)

    def close(self) -> None:
        self._spi.close()


def open_spidev(bus: int, device: int, speed_hz: int, mode: int) -> Any:
    """spidev, imported here so machines without it can import the package."""
    if not 0 < speed_hz <= SpiEncoder.MAX_SPEED_HZ:
        raise ValueError(f"EMS22A clock must be at most 1 MHz, got {speed_hz} Hz")
    import spidev

    spi = spidev.SpiDev()
    spi.open(bus, device)
    spi.max_speed_hz = speed_hz
    spi.mode = mode
    return spi
