"""Weather/safety: unsafe or unreadable closes and parks; opening waits for a clear spell.
Sources: the rain sensor on the lgpio stand-in, and an Alpaca SafetyMonitor over HTTP
(the simulated one, written from the ASCOM specification) read with alpyca."""

from __future__ import annotations

import pytest

from dome.core.safety import SafetyMonitor
from dome.hardware.gpio import GpioInput
from dome.hardware.safety import AlpacaSafetyMonitor, RainSensor
from dome.sim.alpaca import SimSky, safety_monitor_server
from dome.sim.lgpio import SimLgpio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rain_closes_at_once_and_opening_waits_for_a_clear_spell() -> None:
    clock = Clock()
    lg = SimLgpio(clock)
    raining = [False]
    lg.attach_input(22, lambda: 0 if raining[0] else 1)  # the module pulls DO low when wet
    unsafe_calls: list[str] = []
    monitor = SafetyMonitor(
        RainSensor(GpioInput(lg, 0, 22, active_low=True)),
        clear_s=60.0,
        clock=clock,
        on_unsafe=unsafe_calls.append,
    )
    monitor.poll()
    assert monitor.state == "unsafe"  # not yet clear for 60 s after start
    assert monitor.open_refusal() is not None
    clock.now = 61.0
    monitor.poll()
    assert monitor.state == "safe"
    assert monitor.open_refusal() is None
    raining[0] = True
    clock.now = 62.0
    monitor.poll()
    assert monitor.state == "unsafe"
    assert unsafe_calls[-1] == "rain sensor says unsafe"
    n = len(unsafe_calls)
    monitor.poll()
    assert len(unsafe_calls) == n  # once per spell, not at every poll
    raining[0] = False
    clock.now = 100.0
    monitor.poll()
    assert "s to go" in (monitor.open_refusal() or "")
    clock.now = 161.0
    monitor.poll()
    assert monitor.open_refusal() is None


def test_a_lost_source_counts_as_unsafe() -> None:
    sky = SimSky(safe=True)
    server = safety_monitor_server(sky)
    address = server.run()
    try:
        clock = Clock()
        unsafe: list[str] = []
        monitor = SafetyMonitor(
            AlpacaSafetyMonitor(address), clear_s=0.0, clock=clock, on_unsafe=unsafe.append
        )
        monitor.poll()
        assert monitor.state == "safe"
        assert server.connected  # alpyca connected before asking IsSafe
        sky.safe = False
        monitor.poll()
        assert monitor.state == "unsafe"
        assert "says unsafe" in unsafe[-1]
        sky.safe = True
        monitor.poll()
        assert monitor.state == "safe"
        server.offline = True
        monitor.poll()
        assert monitor.state == "unsafe"
        assert "unreadable" in (monitor.reason or "")
        server.offline = False
        server.connected = False  # a restarted monitor forgets its clients
        monitor.poll()
        assert monitor.state == "safe"
    finally:
        server.close()


def test_no_source_is_unmonitored() -> None:
    monitor = SafetyMonitor(None, clear_s=0, clock=Clock(), on_unsafe=lambda r: None)
    monitor.poll()
    assert monitor.status()["state"] == "unmonitored"
    assert monitor.open_refusal() is None


@pytest.mark.parametrize("member", ["issafe", "IsSafe"])
def test_the_simulated_monitor_follows_the_specification(member: str) -> None:
    import httpx

    server = safety_monitor_server(SimSky())
    address = server.run()
    try:
        base = f"http://{address}/api/v1/safetymonitor/0"
        with httpx.Client() as c:
            body = c.get(f"{base}/{member.lower()}", params={"ClientTransactionID": 5}).json()
            assert body["ErrorNumber"] == 0x407  # not connected
            assert body["ClientTransactionID"] == 5
            c.put(f"{base}/connected", data={"connected": "True"}).raise_for_status()
            assert c.get(f"{base}/issafe").json()["Value"] is True
            assert c.get(f"{base}/interfaceversion").json()["Value"] == 3
            assert c.get(f"{base}/issafe", params={"clienttransactionid": "x"}).status_code == 400
            assert c.get(f"http://{address}/api/v1/safetymonitor/1/issafe").status_code == 404
    finally:
        server.close()
