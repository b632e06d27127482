"""Byte-exact exchange tables, replayed against each driver (pymeasure's expected_protocol).

Each row is (bytes the driver must send, bytes the instrument answers or None). The
transport fails on the first unexpected byte; ``assert_done`` checks every exchange was
used and nothing was left in either direction. ``Late`` replies arrive after the driver's
timeout; ``Stale`` bytes are already waiting in the port: the tests named after a defect
fail on a driver that neither drains nor matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from daq.core.errors import (
    BadReply,
    InstrumentError,
    NotReady,
    OutcomeUnknown,
    ReplyTimeout,
    SafetyRefused,
    ValueRefused,
)
from daq.hardware.ell14 import Ell14
from daq.hardware.esp300 import ESP300, AxisLimits
from daq.hardware.maitai import MaiTai
from daq.hardware.parsing import describe_esp300_error
from daq.hardware.pm1830c import PowerMeter1830C
from daq.hardware.scripted import Exchange, Late, ProtocolMismatch, ScriptedTransport, Stale

IDENT = b"0IN0E1140051720231701016800023000\r\n"


@contextmanager
def expected_protocol(exchanges: list[Exchange]) -> Iterator[ScriptedTransport]:
    transport = ScriptedTransport(exchanges)
    yield transport
    transport.assert_done()


def esp(transport: ScriptedTransport, query: Any = "TP?") -> ESP300:
    return ESP300(transport, {1: AxisLimits(-25, 25), 2: AxisLimits(0, 360)}, position_query=query)


# --- ESP300 ---------------------------------------------------------------------------

ESP300_CASES: list[tuple[str, list[Exchange], Callable[[Any], Any], Any]] = [
    (
        "identity",
        [(b"*IDN?\r", b"ESP300 Version 3.04 07/27/01\r\n")],
        lambda d: d.identify(),
        "ESP300 Version 3.04 07/27/01",
    ),
    ("position TP?", [(b"1TP?\r", b"12.3456\r\n")], lambda d: d.axis(1).position, 12.3456),
    ("desired position", [(b"1DP?\r", b"3.5\r\n")], lambda d: d.axis(1).desired_position, 3.5),
    ("motion done", [(b"2MD?\r", b"0\r\n")], lambda d: d.axis(2).motion_done, False),
    ("units", [(b"2SN?\r", b"7\r\n")], lambda d: d.axis(2).units, "deg"),
    ("left limit", [(b"1SL?\r", b"-25\r\n")], lambda d: d.axis(1).left_limit, -25.0),
    (
        "absolute move",
        [(b"1PA10.5\r", None), (b"TE?\r", b"0\r\n")],
        lambda d: d.axis(1).move_to(10.5),
        10.5,
    ),
    (
        "negative move",
        [(b"1PA-2\r", None), (b"TE?\r", b"0\r\n")],
        lambda d: d.axis(1).move_to(-2.0),
        -2.0,
    ),
    (
        "relative move is an absolute move from the desired position",
        [(b"1DP?\r", b"1.0\r\n"), (b"1PA-1\r", None), (b"TE?\r", b"0\r\n")],
        lambda d: d.axis(1).move_by(-2),
        -1.0,
    ),
    ("home", [(b"2OR0\r", None), (b"TE?\r", b"0\r\n")], lambda d: d.axis(2).home(), None),
    ("stop", [(b"1ST\r", None), (b"TE?\r", b"0\r\n")], lambda d: d.axis(1).stop(), None),
    ("abort", [(b"AB\r", None), (b"TE?\r", b"0\r\n")], lambda d: d.abort(), None),
    (
        "velocity",
        [(b"1VA2.5\r", None), (b"TE?\r", b"0\r\n")],
        lambda d: setattr(d.axis(1), "velocity", 2.5),
        None,
    ),
    ("velocity query", [(b"1VA?\r", b"2.5\r\n")], lambda d: d.axis(1).velocity, 2.5),
    (
        "acceleration",
        [(b"1AC10\r", None), (b"TE?\r", b"0\r\n")],
        lambda d: setattr(d.axis(1), "acceleration", 10),
        None,
    ),
    ("motor on", [(b"1MO\r", None), (b"TE?\r", b"0\r\n")], lambda d: d.axis(1).motor_on(), None),
    (
        "error queue drained until 0",
        [(b"TE?\r", b"108\r\n"), (b"TE?\r", b"7\r\n"), (b"TE?\r", b"0\r\n")],
        lambda d: d.clear_errors(),
        [108, 7],
    ),
]


@pytest.mark.parametrize(
    ("name", "script", "action", "expected"), ESP300_CASES, ids=[c[0] for c in ESP300_CASES]
)
def test_esp300_exchange(
    name: str, script: list[Exchange], action: Callable[[Any], Any], expected: Any
) -> None:
    with expected_protocol(script) as t:
        assert action(esp(t)) == expected


def test_esp300_position_query_without_question_mark() -> None:
    with expected_protocol([(b"1TP\r", b"-0.5\r\n")]) as t:
        assert esp(t, "TP").axis(1).position == -0.5


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        (100, "axis 1: motor type not defined"),
        (101, "axis 1: parameter out of range"),
        (102, "axis 1: amplifier fault"),
        (103, "axis 1: following error"),
        (104, "axis 1: positive hardware limit"),
        (205, "axis 2: negative hardware limit"),
        (106, "axis 1: positive software limit"),
        (307, "axis 3: negative software limit"),
        (108, "axis 1: motor/stage not connected"),
        (113, "axis 1: motor not enabled"),
        (120, "axis 1: homing aborted"),
        (130, "axis 1: command not allowed during homing"),
        (6, "command does not exist"),
        (7, "parameter out of range"),
        (37, "axis number missing"),
    ],
)
def test_esp300_error_table_matches_the_manual(code: int, meaning: str) -> None:
    """The table was shifted by one (x01 read as a driver fault, x08 as 'not connected'
    only by accident); these rows are pymeasure's and InstrumentKit's transcription."""
    assert describe_esp300_error(code).startswith(meaning)


def test_esp300_error_after_command_is_blamed_on_it() -> None:
    with (
        expected_protocol([(b"1OR0\r", None), (b"TE?\r", b"108\r\n")]) as t,
        pytest.raises(InstrumentError) as caught,
    ):
        esp(t).axis(1).home()
    assert caught.value.code == 108
    assert "not connected" in str(caught.value)
    assert "'1OR0'" in str(caught.value)


def test_esp300_move_is_not_reported_failed_when_its_error_check_is_late() -> None:
    """The TE? answer comes after the timeout: the move was made, DP? confirms it, and the
    late answer is dropped instead of being read by the next question."""
    script: list[Exchange] = [
        (b"1PA10\r", None),
        (b"TE?\r", Late(b"0\r\n")),
        (b"1DP?\r", b"10.00000\r\n"),
        (b"1TP?\r", b"4.2\r\n"),
    ]
    with expected_protocol(script) as t:
        stage = esp(t)
        assert stage.axis(1).move_to(10) == 10.0
        assert stage.axis(1).position == 4.2
    assert b"0\r\n" in t.discarded


def test_esp300_unconfirmed_move_is_unknown_not_failed() -> None:
    script: list[Exchange] = [
        (b"1PA10\r", None),
        (b"TE?\r", None),
        (b"1DP?\r", b"3.00000\r\n"),
    ]
    with expected_protocol(script) as t, pytest.raises(OutcomeUnknown, match="sent"):
        esp(t).axis(1).move_to(10)


def test_esp300_relative_move_sent_again_does_not_move_twice() -> None:
    """A relative move is sent as PA to DP? + distance: sending the same command again (a
    retry after a lost answer) goes to the same place, where PR would go twice as far."""
    script: list[Exchange] = [
        (b"1DP?\r", b"1.0\r\n"),
        (b"1PA3\r", None),
        (b"TE?\r", b"0\r\n"),
    ]
    with expected_protocol(script) as t:
        assert esp(t).axis(1).move_by(2) == 3.0
    assert b"PR" not in t.written


def test_esp300_stale_input_is_drained_before_a_question() -> None:
    with expected_protocol([(b"1TP?\r", Stale(b"0\r\n", b"7.5\r\n"))]) as t:
        assert esp(t).axis(1).position == 7.5
    assert t.discarded == b"0\r\n"


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        (lambda d: d.axis(1).move_to(25.001), "outside -25 to 25"),
        (lambda d: d.axis(1).move_to(float("nan")), "expected a number"),
        (lambda d: d.axis(1).move_to("3"), "expected a number"),
        (lambda d: d.axis(3), "axis 3 is not configured"),
        (lambda d: d.axis(1).home(7), "mode must be 0 to 6"),
        (lambda d: d.axis(1).move_by(51), "outside -50 to 50"),
        (lambda d: setattr(d.axis(1), "velocity", -1), "velocity"),
    ],
)
def test_esp300_refuses_bad_values_before_sending(
    action: Callable[[Any], Any], problem: str
) -> None:
    with expected_protocol([]) as t, pytest.raises(ValueRefused, match=problem):
        action(esp(t))
    assert t.written == b""


# --- 1830-C ---------------------------------------------------------------------------

PM_CASES: list[tuple[str, list[Exchange], Callable[[Any], Any], Any]] = [
    ("power", [(b"D?\n", b"5E-9\n")], lambda d: d.power, 5e-9),
    ("power with sign and no leading digit", [(b"D?\n", b"+.75E-9\n")], lambda d: d.power, 0.75e-9),
    ("wavelength", [(b"W?\n", b"0800\n")], lambda d: d.wavelength, 800),
    (
        "set wavelength, no reply read",
        [(b"W780\n", None)],
        lambda d: setattr(d, "wavelength", 780),
        None,
    ),
    ("echo off", [(b"E0\n", None)], lambda d: d.echo_off(), None),
    ("units W is 1 (the manual's numbering)", [(b"U1\n", None)], lambda d: d.set_units("W"), None),
    ("units dB is 2", [(b"U2\n", None)], lambda d: d.set_units("dB"), None),
    ("units dBm is 3", [(b"U3\n", None)], lambda d: d.set_units("dBm"), None),
    ("units REL is 4", [(b"U4\n", None)], lambda d: d.set_units("REL"), None),
    ("units query", [(b"U?\n", b"3\n")], lambda d: d.units, "dBm"),
    ("range", [(b"R0\n", None)], lambda d: setattr(d, "range", 0), None),
    ("range query", [(b"R?\n", b"4\n")], lambda d: d.range, 4),
    ("filter", [(b"F2\n", None)], lambda d: setattr(d, "filter", 2), None),
    ("attenuator", [(b"A1\n", None)], lambda d: setattr(d, "attenuator", True), None),
    ("attenuator query", [(b"A?\n", b"0\n")], lambda d: d.attenuator, False),
    ("zero", [(b"Z1\n", None)], lambda d: setattr(d, "zero", True), None),
    ("store reference", [(b"S\n", None)], lambda d: d.store_reference(), None),
    ("hold", [(b"G0\n", None)], lambda d: setattr(d, "running", False), None),
    ("status", [(b"Q?\n", b"132\n")], lambda d: d.status(), ["saturated", "reading ready"]),
    (
        "several setters then a query",
        [(b"W633\n", None), (b"F3\n", None), (b"D?\n", b"1.2E-3\n")],
        lambda d: (setattr(d, "wavelength", 633), setattr(d, "filter", 3), d.power)[2],
        1.2e-3,
    ),
]


@pytest.mark.parametrize(
    ("name", "script", "action", "expected"), PM_CASES, ids=[c[0] for c in PM_CASES]
)
def test_1830c_exchange(
    name: str, script: list[Exchange], action: Callable[[Any], Any], expected: Any
) -> None:
    with expected_protocol(script) as t:
        assert action(PowerMeter1830C(t)) == expected


def test_1830c_units_numbering_is_configurable() -> None:
    with expected_protocol([(b"U2\n", None)]) as t:
        PowerMeter1830C(t, unit_codes={"W": 1, "dBm": 2}).set_units("dBm")


def test_1830c_late_wavelength_is_never_read_as_the_power() -> None:
    """The defect: a W? answer that came after the timeout was read as the next D?."""
    script: list[Exchange] = [(b"W?\n", Late(b"0800\n")), (b"D?\n", b"+.7500E-3\n")]
    with expected_protocol(script) as t:
        pm = PowerMeter1830C(t)
        with pytest.raises(ReplyTimeout):
            _ = pm.wavelength
        assert pm.power == pytest.approx(0.75e-3)
    assert t.discarded == b"0800\n"


def test_1830c_a_wavelength_answer_is_not_a_power_in_watts() -> None:
    with expected_protocol([(b"D?\n", b"0800\n")]) as t, pytest.raises(BadReply):
        _ = PowerMeter1830C(t).power


def test_1830c_echoed_command_is_skipped() -> None:
    with expected_protocol([(b"D?\n", b"D?\n5E-9\n")]) as t:
        assert PowerMeter1830C(t).power == 5e-9


def test_1830c_reading_carries_saturation_and_clears_the_latched_bits() -> None:
    script: list[Exchange] = [(b"D?\n", b"+.2000E-2\n"), (b"Q?\n", b"132\n"), (b"C\n", None)]
    with expected_protocol(script) as t:
        reading = PowerMeter1830C(t).reading()
    assert reading.value == pytest.approx(2e-3)
    assert reading.flags == ["saturated"]
    assert reading.status == 132


def test_1830c_good_reading_has_no_flags_and_sends_no_clear() -> None:
    with expected_protocol([(b"D?\n", b"5E-9\n"), (b"Q?\n", b"128\n")]) as t:
        reading = PowerMeter1830C(t).reading()
    assert reading.flags == []


def test_1830c_over_range_is_flagged() -> None:
    script: list[Exchange] = [(b"D?\n", b"5E-3\n"), (b"Q?\n", b"136\n"), (b"C\n", None)]
    with expected_protocol(script) as t:
        assert PowerMeter1830C(t).reading().flags == ["over-range"]


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        (lambda d: setattr(d, "wavelength", 1200), "wavelength: 1200 is outside 400 to 1100"),
        (lambda d: setattr(d, "wavelength", 800.5), "whole number"),
        (lambda d: setattr(d, "range", 9), "range"),
        (lambda d: setattr(d, "filter", 0), "filter"),
        (lambda d: setattr(d, "attenuator", 1), "true or false"),
        (lambda d: d.set_units("lumen"), "not one of"),
        (lambda d: d.apply_settings({"filter": 2, "wavelength": 5000}), "wavelength"),
    ],
)
def test_1830c_refuses_bad_values_before_sending(
    action: Callable[[Any], Any], problem: str
) -> None:
    with expected_protocol([]) as t, pytest.raises(ValueRefused, match=problem):
        action(PowerMeter1830C(t))
    assert t.written == b""


# --- MaiTai ---------------------------------------------------------------------------

OK = (b"SYST:ERR?\n", b"0 No error\n")

MAITAI_CASES: list[tuple[str, list[Exchange], Callable[[Any], Any], Any]] = [
    ("set wavelength", [(b"WAV 800\n", None), OK], lambda d: d.set_wavelength(800), None),
    ("commanded wavelength", [(b"WAV?\n", b"800nm\n")], lambda d: d.wavelength, 800.0),
    ("actual wavelength", [(b"READ:WAV?\n", b"820nm\n")], lambda d: d.actual_wavelength, 820.0),
    ("range", [(b"WAV:MIN?\n", b"690nm\n")], lambda d: d.minimum_wavelength, 690.0),
    ("shutter query", [(b"SHUT?\n", b"0\n")], lambda d: d.shutter_open, False),
    ("warm-up", [(b"READ:PCTW?\n", b"050%\n")], lambda d: d.warmup_percent, 50.0),
    ("warm-up with decimals", [(b"READ:PCTW?\n", b"100.00%\n")], lambda d: d.warmup_percent, 100),
    ("power", [(b"READ:POW?\n", b"3.000W\n")], lambda d: d.power, 3.0),
    ("emission bit 0", [(b"*STB?\n", b"1\n")], lambda d: d.status.emission, True),
    ("modelocked bit 1", [(b"*STB?\n", b"1\n")], lambda d: d.status.modelocked, False),
    ("error", [(b"SYST:ERR?\n", b"0 No error\n")], lambda d: d.error, (0, "No error")),
    (
        "emission on when warm with the shutter closed",
        [(b"READ:PCTW?\n", b"100%\n"), (b"SHUT?\n", b"0\n"), (b"ON\n", None), OK],
        lambda d: d.emission_on(),
        None,
    ),
    (
        "cold start: ON starts the warm-up",
        [(b"READ:PCTW?\n", b"000.00%\n"), (b"ON\n", None), OK],
        lambda d: d.start_warmup(),
        None,
    ),
    ("emission off", [(b"OFF\n", None), OK], lambda d: d.emission_off(), None),
    (
        "watchdog, read back",
        [(b"TIM:WATC 5\n", None), OK, (b"TIM:WATC?\n", b"5\n")],
        lambda d: d.set_watchdog(5),
        None,
    ),
    (
        "shutter is confirmed by reading it back",
        [(b"SHUT 1\n", None), OK, (b"SHUT?\n", b"0\n"), (b"SHUT?\n", b"1\n")],
        lambda d: d.set_shutter(True),
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "script", "action", "expected"), MAITAI_CASES, ids=[c[0] for c in MAITAI_CASES]
)
def test_maitai_exchange(
    name: str, script: list[Exchange], action: Callable[[Any], Any], expected: Any
) -> None:
    with expected_protocol(script) as t:
        assert action(MaiTai(t)) == expected


def test_maitai_terminator_is_configurable() -> None:
    with expected_protocol([(b"SHUT?\r\n", b"1\n")]) as t:
        assert MaiTai(t, terminator="CRLF").shutter_open is True


def test_maitai_error_after_a_command_is_raised_against_it() -> None:
    script: list[Exchange] = [(b"WAV 700\n", None), (b"SYST:ERR?\n", b"-222 Data out of range\n")]
    with expected_protocol(script) as t, pytest.raises(InstrumentError, match="WAV 700"):
        MaiTai(t).set_wavelength(700)


def test_maitai_refuses_emission_during_warmup_without_sending_on() -> None:
    with (
        expected_protocol([(b"READ:PCTW?\n", b"050%\n")]) as t,
        pytest.raises(NotReady, match="50 %"),
    ):
        MaiTai(t).emission_on()
    assert b"ON" not in t.written.replace(b"PCTW", b"")


def test_maitai_refuses_emission_with_the_shutter_open() -> None:
    script: list[Exchange] = [(b"READ:PCTW?\n", b"100%\n"), (b"SHUT?\n", b"1\n")]
    with expected_protocol(script) as t, pytest.raises(SafetyRefused, match="shutter is open"):
        MaiTai(t).emission_on()
    assert b"ON\n" not in t.written


def test_maitai_shutter_that_never_confirms_is_unknown() -> None:
    script: list[Exchange] = [(b"SHUT 1\n", None), OK] + [(b"SHUT?\n", b"0\n")] * 3
    with expected_protocol(script) as t, pytest.raises(OutcomeUnknown, match="still reads"):
        MaiTai(t, shutter_confirm_s=0.15).set_shutter(True)


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        (lambda d: d.set_wavelength(1100), "outside 690 to 1040"),
        (lambda d: d.set_shutter("yes"), "true or false"),
        (lambda d: d.set_watchdog(-1), "watchdog"),
    ],
)
def test_maitai_refuses_bad_values_before_sending(
    action: Callable[[Any], Any], problem: str
) -> None:
    with expected_protocol([]) as t, pytest.raises(ValueRefused, match=problem):
        action(MaiTai(t))
    assert t.written == b""


# --- ELL14 ----------------------------------------------------------------------------


def identified(t: ScriptedTransport, address: str = "0") -> Ell14:
    mount = Ell14(t, address)
    mount.identify()
    return mount


ELL_CASES: list[tuple[str, list[Exchange], Callable[[Any], Any], Any]] = [
    ("position", [(b"0gp", b"0PO00008C00\r\n")], lambda d: d.angle, 0x8C00 * 360 / 143360),
    ("negative position", [(b"0gp", b"0POFFFFFF00\r\n")], lambda d: d.angle, -256 * 360 / 143360),
    ("status", [(b"0gs", b"0GS00\r\n")], lambda d: d.status(), 0),
    ("status busy", [(b"0gs", b"0GS09\r\n")], lambda d: d.status(), 9),
    ("move absolute 90", [(b"0ma00008C00", b"0PO00008C00\r\n")], lambda d: d.move_to(90), 90.0),
    ("move relative -45", [(b"0mrFFFFBA00", b"0POFFFFBA00\r\n")], lambda d: d.move_by(-45), -45.0),
    ("home clockwise", [(b"0ho0", b"0PO00000000\r\n")], lambda d: d.home(), 0.0),
    ("jog step", [(b"0sj00000E00", b"0GS00\r\n")], lambda d: setattr(d, "jog_step", 9.0), None),
    ("jog step query", [(b"0gj", b"0GJ00000E00\r\n")], lambda d: d.jog_step, 9.0),
    ("jog forward", [(b"0fw", b"0PO00000E00\r\n")], lambda d: d.jog(), 9.0),
    ("stop", [(b"0st", b"0GS00\r\n")], lambda d: d.stop(), None),
    ("velocity", [(b"0sv32", b"0GS00\r\n")], lambda d: d.set_velocity(50), None),
    ("velocity query", [(b"0gv", b"0GV64\r\n")], lambda d: d.velocity, 100),
]


@pytest.mark.parametrize(
    ("name", "script", "action", "expected"), ELL_CASES, ids=[c[0] for c in ELL_CASES]
)
def test_ell14_exchange(
    name: str, script: list[Exchange], action: Callable[[Any], Any], expected: Any
) -> None:
    with expected_protocol([(b"0in", IDENT), *script]) as t:
        result = action(identified(t))
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_ell14_identity_is_read_from_the_device() -> None:
    other = b"2IN0E1140099920241801016800046000\r\n"
    with expected_protocol([(b"2in", other), (b"2ma00008C00", b"2PO00008C00\r\n")]) as t:
        mount = identified(t, "2")
        assert mount.info is not None
        assert mount.info.pulses_per_unit == 0x46000
        assert mount.move_to(45) == pytest.approx(45.0)


@pytest.mark.parametrize(
    ("code", "text"),
    [(2, "mechanical timeout"), (4, "value out of range"), (9, "busy"), (13, "over-current")],
)
def test_ell14_error_status_after_move_is_raised_decoded(code: int, text: str) -> None:
    reply = f"0GS{code:02X}\r\n".encode()
    with (
        expected_protocol([(b"0in", IDENT), (b"0ma00008C00", reply)]) as t,
        pytest.raises(InstrumentError, match=text),
    ):
        identified(t).move_to(90)


def test_ell14_reply_to_another_address_is_not_taken_as_the_answer() -> None:
    """Replies carry address and command: a late reply from mount 1 is dropped and the
    matched one is used."""
    script: list[Exchange] = [(b"0in", IDENT), (b"0gp", b"1PO00002000\r\n0PO00008C00\r\n")]
    with expected_protocol(script) as t:
        mount = identified(t)
        assert mount.angle == pytest.approx(90.0)
    assert mount.unmatched == ["1PO00002000"]


def test_ell14_move_longer_than_its_timeout_does_not_leave_the_bus_a_reply_behind() -> None:
    """The defect: the late PO of a move was read as the answer to the next question for
    good. Now the late reply is dropped while the line settles."""
    script: list[Exchange] = [
        (b"0in", IDENT),
        (b"0ma00008C00", Late(b"0PO00008C00\r\n")),
        (b"0gs", b"0GS00\r\n"),
        (b"0gp", b"0PO00008C00\r\n"),
    ]
    with expected_protocol(script) as t:
        mount = identified(t)
        with pytest.raises(ReplyTimeout):
            mount.move_to(90)
        assert mount.status() == 0
        assert mount.angle == pytest.approx(90.0)
    assert t.discarded == b"0PO00008C00\r\n"


def test_ell14_garbled_line_alone_is_a_bad_reply() -> None:
    with (
        expected_protocol([(b"0gs", b"\xff\xfe\r\n")]) as t,
        pytest.raises(BadReply, match="only"),
    ):
        Ell14(t, "0", reply_timeout=0.05).status()


def test_ell14_torn_line_is_dropped_and_the_real_reply_used() -> None:
    """The tail of a reply torn by an earlier timeout does not end the exchange."""
    with expected_protocol([(b"0gs", b"011800\r\n0GS00\r\n")]) as t:
        mount = Ell14(t, "0")
        assert mount.status() == 0
    assert mount.unmatched == ["011800"]


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        (lambda d: d.move_to(361), "outside 0 to 360"),
        (lambda d: d.move_to(float("nan")), "expected a number"),
        (lambda d: d.move_by(-400), "outside -360 to 360"),
        (lambda d: setattr(d, "jog_step", -1), "jog step"),
        (lambda d: d.set_velocity(101), "percentage"),
    ],
)
def test_ell14_refuses_bad_values_before_sending(
    action: Callable[[Any], Any], problem: str
) -> None:
    with expected_protocol([(b"0in", IDENT)]) as t:
        mount = identified(t)
        sent = bytes(t.written)
        with pytest.raises(ValueRefused, match=problem):
            action(mount)
        assert bytes(t.written) == sent


def test_ell14_refuses_a_bad_address() -> None:
    with pytest.raises(ValueRefused, match="one hex digit"):
        Ell14(ScriptedTransport([]), "G")


def test_scripted_transport_catches_unexpected_and_leftover_bytes() -> None:
    t = ScriptedTransport([(b"D?\n", b"1\n")])
    with pytest.raises(ProtocolMismatch):
        t.write(b"W?\n")
    t2 = ScriptedTransport([(b"D?\n", b"1\n")])
    t2.write(b"D?\n")
    with pytest.raises(ProtocolMismatch, match="never read"):
        t2.assert_done()


def test_scripted_late_reply_shows_the_defect_to_a_driver_that_does_not_settle() -> None:
    """The script's Late reply lands in the next question when nothing settles the line:
    the transport models the failure the drivers are tested against."""
    t = ScriptedTransport([(b"W?\n", Late(b"0800\n")), (b"D?\n", b"5E-9\n")])
    t.write(b"W?\n")
    with pytest.raises(ReplyTimeout):
        t.read_until(b"\n")
    t.write(b"D?\n")
    assert t.read_until(b"\n") == b"0800"
