from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daq.core.errors import BadReply, ValueRefused
from daq.hardware.parsing import (
    decode_signed_hex32,
    describe_1830c_status,
    describe_esp300_error,
    encode_signed_hex32,
    format_fixed,
    parse_ell14_info,
    parse_float,
    parse_maitai_error,
    parse_nanometres,
    parse_percent,
)
from daq.sim.pm1830c import format_reading


@pytest.mark.parametrize(
    ("text", "value"),
    [("5E-9", 5e-9), ("+.75E-9", 0.75e-9), ("-1.5", -1.5), (" 12 ", 12.0), ("1.", 1.0)],
)
def test_parse_float_accepts_instrument_forms(text: str, value: float) -> None:
    assert parse_float(text) == value


@pytest.mark.parametrize("text", ["", "E-9", "1,5", "nan", "inf", "1e", "--1"])
def test_parse_float_refuses_others(text: str) -> None:
    with pytest.raises(BadReply):
        parse_float(text)


@given(st.floats(min_value=1e-12, max_value=10))
def test_power_meter_format_reads_back(value: float) -> None:
    assert parse_float(format_reading(value)) == pytest.approx(value, rel=1e-3)


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_signed_hex_round_trip(value: int) -> None:
    text = encode_signed_hex32(value)
    assert len(text) == 8
    assert text == text.upper()
    assert decode_signed_hex32(text) == value


def test_signed_hex_limits() -> None:
    assert decode_signed_hex32("FFFFFFFF") == -1
    with pytest.raises(ValueRefused):
        encode_signed_hex32(2**31)
    with pytest.raises(BadReply):
        decode_signed_hex32("12345")


def test_ell14_identity() -> None:
    info = parse_ell14_info("0E1140051720231701016800023000")
    assert (info.device_type, info.serial, info.year, info.firmware) == (14, "11400517", 2023, "17")
    assert (info.travel, info.pulses_per_unit, info.thread_imperial, info.hardware) == (
        360,
        143360,
        False,
        1,
    )
    with pytest.raises(BadReply):
        parse_ell14_info("0E11400517")


def test_esp300_errors_and_maitai_replies() -> None:
    assert describe_esp300_error(108) == "axis 1: motor/stage not connected"
    assert describe_esp300_error(7) == "parameter out of range"
    assert describe_esp300_error(37) == "axis number missing"
    assert parse_nanometres("820nm") == 820
    assert parse_percent("050%") == 50
    assert parse_maitai_error("-200 Execution error: warming up") == (
        -200,
        "Execution error: warming up",
    )
    assert describe_1830c_status(4 | 128) == ["saturated", "reading ready"]
    assert format_fixed(10.0) == "10"
    assert format_fixed(-2.5) == "-2.5"
    assert format_fixed(1e-7) == "0"
