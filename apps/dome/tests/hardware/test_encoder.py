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


def test_spi_encoder_reads_two_bytes_msb_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """spidev stands in for the Pi's SPI bus (no /dev/spidev here); the test checks the
    settings it is opened with and how the two bytes become one frame."""
    import sys
    import types

    from dome.hardware.encoder import SpiEncoder

    opened: dict[str, object] = {}

    class FakeSpiDev:
        def open(self, bus: int, device: int) -> None:
            opened["bus"] = (bus, device)

        def xfer2(self, data: list[int]) -> list[int]:
            opened["sent"] = data
            word = build_frame(700)
            return [word >> 8, word & 0xFF]

        def close(self) -> None:
            opened["closed"] = True

    fake = types.ModuleType("spidev")
    fake.SpiDev = FakeSpiDev  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "spidev", fake)
    enc = SpiEncoder(0, 1, 500_000, 3)
    assert parse_frame(enc.read_word()).position == 700
    assert opened["bus"] == (0, 1)
    assert opened["sent"] == [0, 0]
    enc.close()
    assert opened["closed"]
    with pytest.raises(ValueError, match="1 MHz"):
        SpiEncoder(0, 0, 2_000_000, 3)
