"""Every driver against its simulator over a real pseudo-terminal, opened by pyserial the
same way as a USB adapter. Bytes are paced at the instrument's baud rate."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daq.core.errors import (
    BadReply,
    Disconnected,
    InstrumentError,
    NotReady,
    ReplyTimeout,
    ValueRefused,
)
from daq.hardware.ell14 import Ell14
from daq.hardware.esp300 import ESP300, AxisLimits
from daq.hardware.maitai import MaiTai
from daq.hardware.pm1830c import PowerMeter1830C
from daq.hardware.serial_transport import PortSettings, SerialTransport
from daq.sim.lab import BAUD, SimLab

pytestmark = pytest.mark.integration


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SimLab]:
    with SimLab(tmp_path, addresses=["0", "1", "2"], warmup_seconds=0.6) as lab:
        yield lab


def transport(lab: SimLab, kind: str, **kwargs: float) -> SerialTransport:
    settings = PortSettings(
        str(lab.link(kind)), baudrate=BAUD[kind], timeout=kwargs.pop("timeout", 1.0), **kwargs
    )  # type: ignore[arg-type]
    t = SerialTransport(settings)
    t.open()
    return t


def test_esp300_moves_take_time_and_errors_are_read(lab: SimLab) -> None:
    esp = ESP300(transport(lab, "esp300"), {1: AxisLimits(-25, 25), 2: AxisLimits(0, 360)})
    assert esp.identify().startswith("ESP300")
    axis = esp.axis(1)
    assert axis.units == "mm"
    assert esp.axis(2).units == "deg"
    axis.velocity = 50
    axis.move_to(10)
    assert axis.motion_done is False  # 10 mm at 50 mm/s takes 0.2 s
    axis.wait_until_stopped(timeout=2)
    assert axis.position == pytest.approx(10)
    axis.move_by(-2.5)
    axis.wait_until_stopped(timeout=2)
    assert axis.position == pytest.approx(7.5)
    esp.axes[3] = type(axis)(esp, 3, AxisLimits(-1, 1))  # an axis the controller does not have
    with pytest.raises(InstrumentError) as caught:
        esp.axis(3).move_to(0)
    assert caught.value.code == 308


def test_esp300_accepts_both_position_query_forms(lab: SimLab) -> None:
    t = transport(lab, "esp300")
    assert ESP300(t, {1: AxisLimits(-25, 25)}, position_query="TP").axis(1).position == 0
    assert ESP300(t, {1: AxisLimits(-25, 25)}, position_query="TP?").axis(1).position == 0


def test_power_meter_follows_laser_and_mount(lab: SimLab) -> None:
    pm = PowerMeter1830C(transport(lab, "1830c"))
    laser = MaiTai(transport(lab, "maitai"))
    bus = transport(lab, "ell14", timeout=3.0)
    plate = Ell14(bus, "0")
    plate.identify()
    pm.set_units("W")
    pm.wavelength = 800
    assert pm.wavelength == 800
    dark = pm.power
    assert dark < 1e-8
    assert laser.warmup_percent == 0  # cold
    with pytest.raises(NotReady):
        laser.emission_on()
    laser.start_warmup()  # from cold, ON starts the warm-up
    deadline = time.monotonic() + 3
    while laser.warmup_percent < 100:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    laser.emission_on()
    assert laser.status.emission is True
    laser.set_shutter(True)  # returns once SHUT? agrees
    assert laser.shutter_open is True
    assert laser.power > 1
    bright = pm.power
    assert bright > 1000 * dark
    assert plate.move_to(45) == pytest.approx(45, abs=0.01)
    assert pm.power < bright / 100  # cos²(90°): extinguished
    assert plate.move_to(90) == pytest.approx(90, abs=0.01)
    assert pm.power == pytest.approx(bright, rel=0.05)
    laser.set_shutter(False)
    laser.emission_off()
    assert laser.status.modelocked is False


def test_maitai_warmup_error_and_wavelength(lab: SimLab) -> None:
    laser = MaiTai(transport(lab, "maitai"), terminator="CR")
    assert laser.warmup_percent == 0
    laser.start_warmup()
    assert 0 < laser.warmup_percent < 100
    with pytest.raises(InstrumentError, match="warming"):
        laser.command("ON")  # bypass the driver's check to see the laser's own refusal
    laser.set_wavelength(900)
    assert laser.wavelength == 900
    assert laser.actual_wavelength < 900  # still tuning
    time.sleep(0.6)
    assert laser.actual_wavelength == 900


def test_maitai_watchdog_turns_the_pump_off_when_nobody_talks(lab: SimLab) -> None:
    laser = MaiTai(transport(lab, "maitai"))
    laser.start_warmup()
    time.sleep(0.7)
    laser.emission_on()
    laser.set_watchdog(1)
    assert laser.status.modelocked is True
    time.sleep(1.3)
    assert laser.status.modelocked is False


def test_ell14_bus_identifies_each_address_and_moves_independently(lab: SimLab) -> None:
    bus = transport(lab, "ell14", timeout=0.5)  # moves have their own, longer timeout
    mounts = [Ell14(bus, a) for a in "012"]
    serials = {m.identify().serial for m in mounts}
    assert len(serials) == 3
    assert all(m.info is not None and m.info.pulses_per_unit == 143360 for m in mounts)
    mounts[1].move_to(30)
    mounts[2].move_by(10)
    mounts[2].jog_step = 5
    mounts[2].jog()
    assert [m.angle for m in mounts] == pytest.approx([0, 30, 15], abs=0.01)
    assert mounts[0].status() == 0
    with pytest.raises(ReplyTimeout):
        Ell14(bus, "7").identify()  # nobody at address 7


def test_bad_values_send_nothing_to_the_simulators(lab: SimLab) -> None:
    esp = ESP300(transport(lab, "esp300"), {1: AxisLimits(-25, 25)})
    pm = PowerMeter1830C(transport(lab, "1830c"))
    laser = MaiTai(transport(lab, "maitai"))
    for action in (
        lambda: esp.axis(1).move_to(30),
        lambda: setattr(pm, "wavelength", 2000),
        lambda: laser.set_wavelength(10),
    ):
        with pytest.raises(ValueRefused):
            action()
    time.sleep(0.05)
    assert lab.ports["esp300"].received == b""
    assert lab.ports["1830c"].received == b""
    assert lab.ports["maitai"].received == b""


def test_faults_silence_garbage_partial(lab: SimLab) -> None:
    pm = PowerMeter1830C(transport(lab, "1830c", timeout=0.3))
    port = lab.ports["1830c"]
    port.fault = "silence"
    with pytest.raises(ReplyTimeout):
        _ = pm.power
    port.fault = "garbage"
    with pytest.raises(BadReply):
        _ = pm.power
    port.fault = "partial"
    with pytest.raises(ReplyTimeout, match="partial"):
        _ = pm.power
    port.fault = None
    pm.transport.discard_input()
    assert pm.power >= 0


def test_unplug_then_replug_reconnects_at_the_same_path(lab: SimLab) -> None:
    t = transport(lab, "1830c", timeout=0.5)
    t.settings = PortSettings(
        t.settings.port, baudrate=9600, timeout=0.5, reconnect_initial=0.05, reconnect_max=0.2
    )
    pm = PowerMeter1830C(t)
    assert pm.power >= 0
    lab.ports["1830c"].unplug()
    with pytest.raises(Disconnected):
        _ = pm.power
    with pytest.raises(Disconnected):
        _ = pm.power  # the symlink is gone; fails fast
    lab.ports["1830c"].replug()
    deadline = time.monotonic() + 3
    while True:
        try:
            assert pm.power >= 0
            break
        except Disconnected:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert t.reconnects == 1


def test_bytes_are_paced_at_the_baud_rate(lab: SimLab) -> None:
    pm = PowerMeter1830C(transport(lab, "1830c"))
    _ = pm.power
    count = 20
    start = time.perf_counter()
    for _ in range(count):
        _ = pm.power
    elapsed = time.perf_counter() - start
    sent = len(lab.ports["1830c"].sent) // (count + 1)
    line_time = (3 + sent) * 10 / 9600  # query + reply, 10 bits a byte
    assert elapsed >= count * line_time * 0.98


def test_flow_control_forms_both_work_on_the_pty(lab: SimLab) -> None:
    """Sources disagree on the ESP300's RTS/CTS and the MaiTai's XON/XOFF: both settings are
    configurable, and pyserial opens the pty with either."""
    esp = ESP300(transport(lab, "esp300", rtscts=True), {1: AxisLimits(-25, 25)})
    assert esp.identify().startswith("ESP300")
    laser = MaiTai(transport(lab, "maitai", xonxoff=True), terminator="CRLF")
    assert laser.warmup_percent >= 0


# --- the faults real ports show, on real ptys ------------------------------------------


def test_1830c_late_reply_costs_one_reading_and_never_shifts_the_answers(lab: SimLab) -> None:
    """A W? answered after the timeout: that question fails, the late answer is dropped
    while the line settles, and every later reading is a power, not a wavelength."""
    pm = PowerMeter1830C(transport(lab, "1830c", timeout=0.3))
    lab.ports["1830c"].late_s = 0.5
    lab.ports["1830c"].inject("late")
    with pytest.raises(ReplyTimeout):
        _ = pm.wavelength
    readings = [pm.power for _ in range(5)]
    assert all(r < 1e-6 for r in readings)  # dark: powers, never 800
    assert pm.wavelength == 800


def test_1830c_reply_split_across_reads_is_reassembled(lab: SimLab) -> None:
    pm = PowerMeter1830C(transport(lab, "1830c"))
    lab.ports["1830c"].inject("split", count=3)
    assert [pm.wavelength for _ in range(3)] == [800, 800, 800]


def test_1830c_echo_is_turned_off_and_skipped(lab: SimLab) -> None:
    lab.pm.echo = True  # a meter left echoing
    pm = PowerMeter1830C(transport(lab, "1830c"))
    assert pm.wavelength == 800  # the echoed "W?" is skipped
    pm.echo_off()
    assert pm.wavelength == 800
    assert lab.pm.echo is False


def test_1830c_dropped_terminator_loses_one_reading_only(lab: SimLab) -> None:
    pm = PowerMeter1830C(transport(lab, "1830c", timeout=0.3))
    lab.ports["1830c"].inject("drop")
    with pytest.raises(ReplyTimeout):
        _ = pm.wavelength
    assert pm.wavelength == 800
    assert pm.wavelength == 800


def test_1830c_saturation_is_recorded_with_the_reading(lab: SimLab) -> None:
    pm = PowerMeter1830C(transport(lab, "1830c"))
    lab.world.laser_output = lambda now: 100.0  # far above what the detector takes
    reading = pm.reading()
    assert reading.flags == ["saturated"]
    lab.world.laser_output = lambda now: 0.0
    assert pm.reading().flags == []  # latched bits were cleared after being read


def test_noise_at_connect_is_dropped(lab: SimLab) -> None:
    port = lab.ports["1830c"]
    port.inject("noise")
    t = transport(lab, "1830c")
    assert PowerMeter1830C(t).wavelength == 800
    assert port.noise_sent > 0


def test_esp300_late_error_check_is_settled_by_the_desired_position(lab: SimLab) -> None:
    esp = ESP300(transport(lab, "esp300", timeout=0.3), {1: AxisLimits(-25, 25)})
    esp.clear_errors()
    port = lab.ports["esp300"]
    port.late_s = 0.4
    port.inject("late", count=1)  # the next reply is TE?'s, after the PA
    assert esp.axis(1).move_to(5) == 5.0  # made, and not reported as failed
    esp.axis(1).wait_until_stopped(3)
    assert esp.axis(1).position == pytest.approx(5)
    assert esp.error_code() == 0


def test_ell14_late_move_reply_is_dropped_and_the_bus_stays_in_step(lab: SimLab) -> None:
    bus = transport(lab, "ell14", timeout=0.5)
    mount = Ell14(bus, "0", move_timeout=0.1, reply_timeout=0.5)
    other = Ell14(bus, "1", reply_timeout=0.5)
    mount.identify()
    other.identify()
    with pytest.raises(ReplyTimeout):
        mount.move_to(180)  # a quarter second at full speed: longer than its timeout
    assert mount.wait_idle(2) == 0
    assert mount.angle == pytest.approx(180, abs=0.01)
    assert other.angle == pytest.approx(0, abs=0.01)
    assert mount.status() == 0


def test_ell14_echo_and_split_replies_are_matched(lab: SimLab) -> None:
    bus = transport(lab, "ell14", timeout=0.5)
    mount = Ell14(bus, "2")
    mount.identify()
    port = lab.ports["ell14"]
    port.fault = "echo"
    port.inject("split", count=2)
    assert mount.move_to(30) == pytest.approx(30, abs=0.01)
    assert mount.angle == pytest.approx(30, abs=0.01)
    port.fault = None
    mount.velocity = 50
    assert mount.velocity == 50
    mount.stop()
