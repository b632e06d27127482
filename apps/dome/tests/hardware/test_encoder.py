import pytest
from hypothesis import given
from hypothesis import strategies as st

from dome.hardware.encoder import FrameError, build_frame, even_parity_ok, parse_frame


def test_every_16_bit_word_decodes_consistently() -> None:
    """Exhaustive over all 65536 words: parity first, then the alarms, then OCF."""
    for word in range(1 << 16):
        frame = parse_frame(word)
        assert frame.position == word >> 6
        ones = bin(word).count("1")
        if ones % 2:
            assert frame.error is FrameError.PARITY
        elif word & 0b10000:
            assert frame.error is FrameError.CORDIC_OVERFLOW
        elif word & 0b1000:
            assert frame.error is FrameError.LINEARITY_ALARM
        elif not word & 0b100000:
            assert frame.error is FrameError.NOT_READY
        else:
            assert frame.ok
        assert frame.magnitude_increase == bool(word & 0b100)
        assert frame.magnitude_decrease == bool(word & 0b10)


@given(
    st.integers(0, 1023),
    st.booleans(),
    st.booleans(),
)
def test_built_frames_round_trip(position: int, inc: bool, dec: bool) -> None:
    word = build_frame(position, magnitude_increase=inc, magnitude_decrease=dec)
    assert even_parity_ok(word)
    frame = parse_frame(word)
    assert frame.ok
    assert frame.position == position
    assert (frame.magnitude_increase, frame.magnitude_decrease) == (inc, dec)


@given(st.integers(0, 1023), st.integers(0, 15))
def test_any_single_bit_flip_is_caught_by_parity(position: int, bit: int) -> None:
    word = build_frame(position) ^ (1 << bit)
    assert parse_frame(word).error is FrameError.PARITY


@given(st.integers(0, 1023))
def test_alarm_frames_are_not_positions(position: int) -> None:
    assert (
        parse_frame(build_frame(position, cordic_overflow=True)).error is FrameError.CORDIC_OVERFLOW
    )
    assert (
        parse_frame(build_frame(position, linearity_alarm=True)).error is FrameError.LINEARITY_ALARM
    )
    assert parse_frame(build_frame(position, ready=False)).error is FrameError.NOT_READY
    assert parse_frame(build_frame(position, corrupt_parity=True)).error is FrameError.PARITY


@pytest.mark.parametrize("word", [-1, 1 << 16])
def test_out_of_range_words_are_refused(word: int) -> None:
    with pytest.raises(ValueError, match="16 bits"):
        parse_frame(word)


def test_out_of_range_positions_are_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.\.1023"):
        build_frame(1024)


def test_spidev_is_opened_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """spidev stands in for the Pi's SPI bus (no /dev/spidev here): the test checks the
    settings it is opened with."""
    import sys
    import types

    from dome.hardware.encoder import open_spidev

    opened: dict[str, object] = {}

    class FakeSpiDev:
        def open(self, bus: int, device: int) -> None:
            opened["bus"] = (bus, device)

    fake = types.ModuleType("spidev")
    fake.SpiDev = FakeSpiDev  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "spidev", fake)
    spi = open_spidev(0, 1, 500_000, 0)
    assert opened["bus"] == (0, 1)
    assert (spi.max_speed_hz, spi.mode) == (500_000, 0)
    with pytest.raises(ValueError, match="1 MHz"):
        open_spidev(0, 0, 2_000_000, 0)


class WireSpi:
    """What the EMS22A puts on MISO for a 24-clock transfer: ``lead`` bits before D9
    (the level the line had), the 16-bit frame, then the daisy-chain input (low)."""

    def __init__(self, word: int, lead: int, lead_level: int = 0) -> None:
        bits = [lead_level] * lead + [(word >> (15 - i)) & 1 for i in range(16)]
        bits += [0] * (24 - len(bits))
        self.data = [int("".join(map(str, bits[i : i + 8])), 2) for i in (0, 8, 16)]
        self.sent: list[int] = []

    def xfer2(self, data: list[int]) -> list[int]:
        self.sent = data
        return self.data

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("mode", "lead"), [(0, 1), (1, 0)])
@pytest.mark.parametrize("lead_level", [0, 1])
def test_the_frame_is_found_after_the_leading_bits_of_the_mode(
    mode: int, lead: int, lead_level: int
) -> None:
    from dome.hardware.encoder import SpiEncoder

    word = build_frame(700)
    spi = WireSpi(word, lead, lead_level)
    sample = SpiEncoder(spi, mode).read()
    assert sample.counts == 700
    assert spi.sent == [0, 0, 0]  # 24 clocks: the parity bit arrives in every mode


def test_a_wrong_mode_setting_reads_parity_errors_not_positions() -> None:
    """The frame as DriftApp's mode 0 wiring delivers it, read as if it were mode 1:
    shifted by a bit, so parity (or the status bits) refuse most positions."""
    from dome.hardware.encoder import SpiEncoder

    wrong = 0
    for pos in range(0, 1024, 7):
        sample = SpiEncoder(WireSpi(build_frame(pos), 1), 1).read()
        wrong += sample.counts != pos and sample.counts is not None
        if sample.counts is None:
            assert sample.error is not None
    assert wrong == 0  # never a wrong position, only refusals


def test_driftapp_extraction_reads_twice_the_count_rate_in_mode_0() -> None:
    """DriftApp's ``(b0 & 0x3F) << 4 | b1 >> 4`` on a mode-0 2-byte transfer, where D9 is
    at bit 14, reads D8..D0 and OCF: twice our count (mod 1024), which its calibration
    factor 0.010851 = (50 / 2303) / 2 absorbs. This is the evidence for one leading bit."""
    for pos in (1, 100, 300, 511):
        data = WireSpi(build_frame(pos), 1).data[:2]
        driftapp = ((data[0] & 0x3F) << 4) | (data[1] >> 4)
        assert driftapp == (2 * pos + 1) % 1024  # OCF (1 when ready) is the new LSB
    assert pytest.approx(50 / 2303 / 2, rel=1e-3) == 0.010851


def test_modes_2_and_3_are_refused() -> None:
    from dome.hardware.encoder import SpiEncoder

    with pytest.raises(ValueError, match="0 or 1"):
        SpiEncoder(WireSpi(0, 0), 3)
