"""An instrument's up/down state in core, on byte-exact scripts: down on a failed
exchange, no value while down, up again only after a probe that cannot be mistaken."""

from __future__ import annotations

import pytest

from daq.core.errors import InstrumentDown, ReplyTimeout
from daq.core.instruments import PowerMeter
from daq.hardware.pm1830c import PowerMeter1830C
from daq.hardware.scripted import Late, ScriptedTransport
from daq.metrics import DaqMetrics

SETUP = [(b"E0\n", None), (b"U1\n", None), (b"C\n", None), (b"W?\n", b"0800\n")]


def meter(script: list) -> tuple[PowerMeter, ScriptedTransport]:  # type: ignore[type-arg]
    t = ScriptedTransport(SETUP + script)
    pm = PowerMeter("meter", t, DaqMetrics(), PowerMeter1830C(t), "W")  # type: ignore[arg-type]
    pm.connect()
    assert pm.up
    return pm, t


def test_late_reply_marks_down_and_a_probe_brings_it_back() -> None:
    pm, t = meter(
        [
            (b"D?\n", Late(b"+.5000E-8\n")),  # late: the reading fails, the line settles
            (b"W?\n", b"0800\n"),  # the probe: the wavelength the meter is set to
            (b"D?\n", b"+.7000E-8\n"),
            (b"Q?\n", b"128\n"),
        ]
    )
    read = pm.readings()["meter.power"].read
    with pytest.raises(ReplyTimeout):
        read()
    assert pm.up is False
    sample = read()
    assert sample.value == pytest.approx(7e-9)  # not the late 5e-9
    assert pm.up is True
    t.assert_done()


def test_no_value_while_the_probe_fails() -> None:
    pm, t = meter(
        [
            (b"D?\n", None),  # silence
            (b"W?\n", b"5E-9\n"),  # the probe gets a power: out of step, still down
        ]
    )
    read = pm.readings()["meter.power"].read
    with pytest.raises(ReplyTimeout):
        read()
    with pytest.raises(InstrumentDown, match="no good exchange"):
        read()
    assert pm.up is False
    t.assert_done()


def test_a_wavelength_changed_on_the_front_panel_does_not_keep_it_down() -> None:
    pm, t = meter(
        [
            (b"D?\n", None),
            (b"W?\n", b"0633\n"),
            (b"W?\n", b"0633\n"),  # the same answer twice: in step, the setting changed
            (b"D?\n", b"5E-9\n"),
            (b"Q?\n", b"128\n"),
        ]
    )
    read = pm.readings()["meter.power"].read
    with pytest.raises(ReplyTimeout):
        read()
    assert read().value == 5e-9
    assert pm.wavelength_nm == 633
    t.assert_done()
