"""The Shelly shutter driver over real HTTP against a simulated Shelly Gen2 device
(written from Shelly's Gen2 RPC documentation), which drives the simulated shutter."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dome.core.shutter import Shutter, ShutterState
from dome.hardware.shutter import LimitPair, ShellyInput, ShellyRpc, ShellyShutter
from dome.sim.shelly import SimShelly
from dome.sim.shutter import SimShutterMechanism


class Clock:
    def __init__(self) -> None:
        self.now = 5.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rig() -> Iterator[tuple[SimShelly, Shutter, Clock, ShellyRpc]]:
    clock = Clock()
    mech = SimShutterMechanism(clock, travel_s=10.0)
    shelly = SimShelly(mech, clock=clock)
    url = shelly.run()
    rpc = ShellyRpc(url, timeout_s=2.0)
    drive = ShellyShutter(
        rpc, 0, 1, LimitPair(ShellyInput(rpc, 0), ShellyInput(rpc, 1)), safety_off_s=20.0
    )
    shutter = Shutter(drive, 15.0, clock)
    shutter.tick()
    yield shelly, shutter, clock, rpc
    rpc.close()
    shelly.close()


def run(shutter: Shutter, clock: Clock, seconds: float) -> None:
    for _ in range(round(seconds / 0.2)):
        clock.now += 0.2
        shutter.tick()


def test_open_and_close_through_the_shelly(
    rig: tuple[SimShelly, Shutter, Clock, ShellyRpc],
) -> None:
    shelly, shutter, clock, _ = rig
    assert shutter.state is ShutterState.CLOSED
    shutter.open()
    set_calls = [p for m, p in shelly.calls if m == "Switch.Set"]
    # the close relay off first, then the open relay on with the Shelly's own timer
    assert set_calls[-2:] == [{"id": 1, "on": False}, {"id": 0, "on": True, "toggle_after": 20.0}]
    run(shutter, clock, 10.5)
    assert shutter.state is ShutterState.OPEN
    assert shelly.output == [False, False]
    shutter.close()
    run(shutter, clock, 10.5)
    assert shutter.state is ShutterState.CLOSED
    assert shelly.mech.both_on == 0


def test_the_shelly_switches_the_motor_off_by_itself_if_the_controller_dies(
    rig: tuple[SimShelly, Shutter, Clock, ShellyRpc],
) -> None:
    shelly, shutter, clock, rpc = rig
    shelly.mech.faults.update(open_limit_never_trips=True)
    shutter.open()
    clock.now += 25.0  # no more ticks: the controller is gone
    status = rpc.call("Switch.GetStatus", id=0)
    assert status["output"] is False  # toggle_after turned it off
    assert shelly.mech.snapshot()["opening"] is False


def test_an_unreachable_shelly_is_a_shutter_error(
    rig: tuple[SimShelly, Shutter, Clock, ShellyRpc],
) -> None:
    shelly, shutter, clock, _ = rig
    shutter.open()
    shelly.offline = True
    run(shutter, clock, 0.4)
    assert shutter.state is ShutterState.ERROR
    assert "limit switches unreadable" in (shutter.error or "")
    assert "503" in (shutter.error or "")


def test_the_stand_in_answers_as_the_documentation_says(
    rig: tuple[SimShelly, Shutter, Clock, ShellyRpc],
) -> None:
    _, _, _, rpc = rig
    base = rpc.base_url
    with httpx.Client() as c:
        frame = c.post(
            f"{base}/rpc", json={"id": 7, "method": "Switch.Set", "params": {"id": 0, "on": True}}
        ).json()
        assert frame["id"] == 7
        assert frame["result"] == {"was_on": False}
        assert c.get(f"{base}/rpc/Switch.GetStatus", params={"id": 0}).json()["output"] is True
        assert c.post(f"{base}/rpc/Input.GetStatus", json={"id": 1}).json() == {
            "id": 1,
            "state": True,
        }
        bad = c.post(f"{base}/rpc", json={"id": 8, "method": "Switch.Set", "params": {"id": 5}})
        assert bad.json()["error"]["code"] == -103
    with pytest.raises(OSError, match="No handler"):
        rpc.call("Cover.Open", id=0)
