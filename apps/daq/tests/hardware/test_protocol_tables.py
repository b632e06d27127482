"""Byte-exact exchange tables, replayed against each driver (pymeasure's expected_protocol).

Each row is (bytes the driver must send, bytes the instrument answers or None). The
transport fails on the first unexpected byte; ``assert_done`` checks every exchange was
used and nothing was left in either direction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from daq.hardware.ell14 import Ell14
from daq.hardware.errors import InstrumentError, NotReady, ValueRefused
from daq.hardware.esp300 import ESP300, AxisLimits
from daq.hardware.maitai import MaiTai
from daq.hardware.pm1830c import PowerMeter1830C
from daq.hardware.scripted import Exchange, ProtocolMismatch, ScriptedTransport

IDENT = b"0IN0E1140051720231701016800023000\r\n"


@contextmanager
def expected_protocol(exchanges: list[Exchange]) -> Iterator[ScriptedTransport]:
    transport = ScriptedTransport(exchanges)
    yield transport
    transport.assert_done()


def esp(transport: ScriptedTransport, query: Any = "TP?") -> ESP300:
    return ESP300(transport, {1: AxisLimits(-25, 25), 2: AxisLimits(0, 360)}, position_query=query)


ESP300_CASES: list[tuple[str, list[Exchange], Callable[[Any], Any], Any]] = [
    (
        "identity",
        [(b"*IDN?\r", b"ESP300 Version 3.04 07/27/01\r\n")],
        lambda d: d.idn,
        "ESP300 Version 3.04 07/27/01",
    ),
    ("position TP?", [(b"1TP?\r", b"12.3456\r\n")], lambda d: d.axis(1).position, 12.3456),
    ("motion done", [(b"2MD?\r", b"0\r\n")], lambda d: d.axis(2).motion_done, False),
    ("units", [(b"2SN?\r", b"7\r\n")], lambda d: d.axis(2).units, "deg"),
    ("left limit", [(b"1SL?\r", b"-25\r\n")], lambda d: d.axis(1).left_limit, -25.0),
    (
        "absolute move",
        [(b"1PA10.5\r", None), (b"TE?\r", b"0\r\n")],
        lambda d: d.axis(1).move_to(10.5),
        None,
    ),
    (
        "negative move",
        [(b"1PA-2\r", None), (b"TE?\r", b"0\r\n")],
        lambda d: d.axis(1).move_to(-2.0),
        None,
    ),
    (
        "relative move",
        [(b"1TP?\r", b"1.0\r\n"), (b"1PR-2\r", None), (b"TE?\r", b"0\r\n")],
        lambda d: d.axis(1).move_by(-2),
        None,
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


def test_esp300_error_after_command_is_raised_with_its_meaning() -> None:
    with (
        expected_protocol([(b"1OR0\r", None), (b"TE?\r", b"108\r\n")]) as t,
        pytest.raises(InstrumentError) as caught,
    ):
        esp(t).axis(1).home()
    assert caught.value.code == 108
    assert "not connected" in str(caught.value)


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
    ("units", [(b"U1\n", None)], lambda d: d.set_units("W"), None),
    ("units query", [(b"U?\n", b"3\n")], lambda d: d.units, "dBm"),
    ("range", [(b"R0\n", None)], lambda d: setattr(d, "range", 0), None),
    ("range query", [(b"R?\n", b"4\n")], lambda d: d.range, 4),
    ("filter", [(b"F2\n", None)], lambda d: setattr(d, "filter", 2), None),
    ("attenuator", [(b"A1\n", None)], lambda d: setattr(d, "attenuator", True), None),
    ("attenuator query", [(b"A?\n", b"0\n")], lambda d: d.attenuator, False),
    ("zero", [(b"Z1\n", None)], lambda d: setattr(d, "zero", True), None),
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


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        (lambda d: setattr(d, "wavelength", 1200), "wavelength: 1200 is outside 400 to 1100"),
        (lambda d: setattr(d, "wavelength", 800.5), "whole number"),
        (lambda d: setattr(d, "range", 9), "range"),
        (lambda d: setattr(d, "filter", 0), "filter"),
        (lambda d: setattr(d, "attenuator", 1), "true or false"),
        (lambda d: d.set_units("lumen"), "not one of"),
    ],
)
def test_1830c_refuses_bad_values_before_sending(
    action: Callable[[Any], Any], problem: str
) -> None:
    with expected_protocol([]) as t, pytest.raises(ValueRefused, match=problem):
        action(PowerMeter1830C(t))
    assert t.written == b""


MAITAI_CASES: list[tuple[str, list[Exchange], Callable[[Any], Any], Any]] = [
    ("set wavelength", [(b"WAV 800\n", None)], lambda d: setattr(d, "wavelength", 800), None),
    ("commanded wavelength", [(b"WAV?\n", b"800nm\n")], lambda d: d.wavelength, 800.0),
    ("actual wavelength", [(b"READ:WAV?\n", b"820nm\n")], lambda d: d.actual_wavelength, 820.0),
    ("range", [(b"WAV:MIN?\n", b"690nm\n")], lambda d: d.minimum_wavelength, 690.0),
    ("shutter open", [(b"SHUT 1\n", None)], lambda d: setattr(d, "shutter_open", True), None),
    ("shutter query", [(b"SHUT?\n", b"0\n")], lambda d: d.shutter_open, False),
    ("warm-up", [(b"READ:PCTW?\n", b"050%\n")], lambda d: d.warmup_percent, 50.0),
    ("power", [(b"READ:POW?\n", b"3.000W\n")], lambda d: d.power, 3.0),
    ("status", [(b"*STB?\n", b"3\n")], lambda d: d.status.modelocked, True),
    ("error", [(b"SYST:ERR?\n", b"0 No error\n")], lambda d: d.error, (0, "No error")),
    (
        "emission on when warm",
        [(b"READ:PCTW?\n", b"100%\n"), (b"ON\n", None)],
        lambda d: d.emission_on(),
        None,
    ),
    ("emission off", [(b"OFF\n", None)], lambda d: d.emission_off(), None),
    ("watchdog", [(b"TIM:WATC 5\n", None)], lambda d: d.set_watchdog(5), None),
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


def test_maitai_refuses_emission_during_warmup_without_sending_on() -> None:
    with (
        expected_protocol([(b"READ:PCTW?\n", b"050%\n")]) as t,
        pytest.raises(NotReady, match="50 %"),
    ):
        MaiTai(t).emission_on()
    assert b"ON" not in t.written.replace(b"PCTW", b"")


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        (lambda d: setattr(d, "wavelength", 1100), "outside 690 to 1040"),
        (lambda d: setattr(d, "shutter_open", "yes"), "true or false"),
        (lambda d: d.set_watchdog(-1), "watchdog"),
    ],
)
def test_maitai_refuses_bad_values_before_sending(
    action: Callable[[Any], Any], problem: str
) -> None:
    with expected_protocol([]) as t, pytest.raises(ValueRefused, match=problem):
        action(MaiTai(t))
    assert t.written == b""


def identified(t: ScriptedTransport, address: str = "0") -> Ell14:
    mount = Ell14(t, address)
    mount.identify()
    return mount


ELL_CASES: list[tuple[str, list[Exchange], Callable[[Any], Any], Any]] = [
    ("position", [(b"0gp", b"0PO00008C00\r\n")], lambda d: d.angle, 0x8C00 * 360 / 143360),
    ("negative position", [(b"0gp", b"0POFFFFFF00\r\n")], lambda d: d.angle, -256 * 360 / 143360),
    ("status", [(b"0gs", b"0GS00\r\n")], lambda d: d.status(), 0),
    ("move absolute 90", [(b"0ma00008C00", b"0PO00008C00\r\n")], lambda d: d.move_to(90), 90.0),
    ("move relative -45", [(b"0mrFFFFBA00", b"0POFFFFBA00\r\n")], lambda d: d.move_by(-45), -45.0),
    ("home clockwise", [(b"0ho0", b"0PO00000000\r\n")], lambda d: d.home(), 0.0),
    ("jog step", [(b"0sj00000E00", b"0GS00\r\n")], lambda d: setattr(d, "jog_step", 9.0), None),
    ("jog step query", [(b"0gj", b"0GJ00000E00\r\n")], lambda d: d.jog_step, 9.0),
    ("jog forward", [(b"0fw", b"0PO00000E00\r\n")], lambda d: d.jog(), 9.0),
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


def test_ell14_error_status_after_move_is_raised() -> None:
    with (
        expected_protocol([(b"0in", IDENT), (b"0ma00008C00", b"0GS02\r\n")]) as t,
        pytest.raises(InstrumentError, match="mechanical timeout"),
    ):
        identified(t).move_to(90)


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        (lambda d: d.move_to(361), "outside 0 to 360"),
        (lambda d: d.move_to(float("nan")), "expected a number"),
        (lambda d: d.move_by(-400), "outside -360 to 360"),
        (lambda d: setattr(d, "jog_step", -1), "jog step"),
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
