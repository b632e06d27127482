"""Following a real telescope over ASCOM Alpaca (alpyca's Telescope client) against the
simulated mount, an Alpaca Telescope written from the ASCOM specification."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from dome.core.angles import shortest_delta
from dome.core.controller import State
from dome.core.errors import InvalidStateError, NotConnectedError
from dome.core.geometry import DomeGeometry
from dome.core.pier import PierPolicy
from dome.core.tracking import Site, SlitCalculator, TrackingService
from dome.hardware.mount import AlpacaMount
from dome.sim.alpaca import AlpacaDeviceServer, SimMount, telescope_server
from dome.sim.world import SimWorld

GEOMETRY = DomeGeometry(radius_m=2.2, latitude_deg=52.0, optical_offset_m=0.5)


@pytest.fixture
def mount() -> Iterator[tuple[SimMount, AlpacaDeviceServer, str]]:
    sim = SimMount(altitude_deg=40.0, azimuth_deg=120.0, side=1)
    server = telescope_server(sim)
    address = server.run()
    yield sim, server, address
    server.close()


def service(address: str, pier: str = "mount") -> tuple[SimWorld, TrackingService]:
    w = SimWorld(start_deg=100.0)
    w.run(0.1)
    calc = SlitCalculator(Site(52.0, 5.0, 10.0), GEOMETRY, None, PierPolicy(pier))  # type: ignore[arg-type]
    t = TrackingService(
        w.controller,
        calc,
        update_s=10.0,
        dead_band_deg=0.5,
        min_altitude_deg=5.0,
        mount=AlpacaMount(address),
    )
    return w, t


def test_the_dome_follows_the_telescope_and_its_side_of_pier(
    mount: tuple[SimMount, AlpacaDeviceServer, str],
) -> None:
    sim, server, address = mount
    w, t = service(address)
    described = t.slave()
    assert described["slaved"] is True
    assert described["pier_side"] == "west"  # as the mount's SideOfPier (1) says
    expected = GEOMETRY.slit_azimuth(40.0, 120.0, "west")
    w.run_until(lambda: not w.controller.is_moving(), 120)
    assert w.controller.state is State.TRACKING
    assert abs(shortest_delta(w.dome.dome_deg, expected)) < 1.0
    sim.point(50.0, 200.0, side=0)  # the mount flipped and moved on
    t.update()
    w.run_until(lambda: not w.controller.is_moving(), 120)
    assert abs(shortest_delta(w.dome.dome_deg, GEOMETRY.slit_azimuth(50.0, 200.0, "east"))) < 1.0
    assert ("GET", "sideofpier") in server.requests


def test_losing_the_telescope_stops_following_and_says_so(
    mount: tuple[SimMount, AlpacaDeviceServer, str],
) -> None:
    _, server, address = mount
    w, t = service(address)
    t.slave()
    w.run(1.0)
    server.offline = True
    assert t.update() is None
    assert not t.slaved
    assert "stopped following the telescope" in (t.last_reason or "")
    w.run_until(lambda: not w.controller.is_moving(), 30)
    assert w.controller.state is State.IDLE


def test_a_mount_that_does_not_know_its_side_falls_back_to_the_hour_angle(
    mount: tuple[SimMount, AlpacaDeviceServer, str],
) -> None:
    sim, _, address = mount
    sim.side_implemented = False
    _, t = service(address)
    described = t.slave()
    assert described["pier_side"] == "west"  # az 120: east of the meridian
    assert "does not know" in (described["rule"] or "")


def test_slaving_needs_a_telescope_that_answers(
    mount: tuple[SimMount, AlpacaDeviceServer, str],
) -> None:
    _, server, address = mount
    server.offline = True
    _, t = service(address)
    with pytest.raises(NotConnectedError, match="does not answer"):
        t.slave()
    _, none = service(address)
    none.mount = None
    with pytest.raises(InvalidStateError, match="DOME_MOUNT_ADDRESS"):
        none.slave()


def test_the_simulated_telescope_follows_the_specification(
    mount: tuple[SimMount, AlpacaDeviceServer, str],
) -> None:
    sim, _, address = mount
    base = f"http://{address}/api/v1/telescope/0"
    with httpx.Client() as c:
        assert c.get(f"{base}/altitude").json()["ErrorNumber"] == 0x407
        c.put(f"{base}/Connected", data={"Connected": "true", "ClientID": "1"}).raise_for_status()
        body = c.get(f"{base}/sideofpier", params={"ClientTransactionID": "9"}).json()
        assert body == {
            "ClientTransactionID": 9,
            "ServerTransactionID": body["ServerTransactionID"],
            "ErrorNumber": 0,
            "ErrorMessage": "",
            "Value": 1,
        }
        ra = c.get(f"{base}/rightascension").json()["Value"]
        assert 0 <= ra < 24  # hours
        assert c.get(f"{base}/interfaceversion").json()["Value"] == 4
        assert c.get(f"{base}/pulseguide").json()["ErrorNumber"] == 0x400
    sim.side_implemented = False
    with httpx.Client() as c:
        assert c.get(f"{base}/sideofpier").json()["ErrorNumber"] == 0x400
