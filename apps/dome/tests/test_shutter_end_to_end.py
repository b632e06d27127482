"""The shutter, the weather and slaving through the real processes (``dome serve --sim``:
simulated GPIO shutter and rain sensor) and a simulated Alpaca telescope, driven over
HTTP and by alpyca's Dome client."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from alpaca.dome import Dome
from alpaca.exceptions import InvalidOperationException

from dome.core.angles import shortest_delta
from dome.sim.alpaca import AlpacaDeviceServer, SimMount, telescope_server

from .conftest import DomeServer, start_server, stop_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mount() -> Iterator[tuple[SimMount, AlpacaDeviceServer, str]]:
    sim = SimMount(altitude_deg=45.0, azimuth_deg=150.0, side=1)
    server = telescope_server(sim)
    address = server.run()
    yield sim, server, address
    server.close()


@pytest.fixture(scope="module")
def server(mount: tuple[SimMount, AlpacaDeviceServer, str]) -> Iterator[DomeServer]:
    s = start_server(
        {
            "DOME_SHUTTER": "gpio",
            "DOME_SHUTTER_TRAVEL_TIMEOUT_S": "15",
            "DOME_SAFETY_SOURCE": "rain_gpio",
            "DOME_SAFETY_CLEAR_S": "0",
            "DOME_SAFETY_POLL_S": "0.2",
            "DOME_MOUNT_ADDRESS": mount[2],
            "DOME_PIER_SIDE": "mount",
            "DOME_TRACKING_UPDATE_S": "0.5",
            "DOME_TRACKING_DEAD_BAND_DEG": "0.5",
        }
    )
    yield s
    stop_server(s)


def shutter(server: DomeServer) -> str:
    return str(server.status()["shutter"]["state"])


def sim(server: DomeServer, **faults: object) -> None:
    with server.client() as c:
        c.post("/api/dome/sim/faults", json=faults).raise_for_status()


@pytest.fixture
def dome(server: DomeServer) -> Iterator[Dome]:
    d = Dome(server.url.removeprefix("http://"), 0)
    d.Connect()
    while d.Connecting:
        time.sleep(0.05)
    yield d
    d.Disconnect()


def test_alpaca_opens_and_closes_the_shutter(dome: Dome, server: DomeServer) -> None:
    assert dome.InterfaceVersion == 3
    assert dome.Connected
    assert dome.CanSetShutter
    assert dome.ShutterStatus.value == 1  # closed
    dome.OpenShutter()
    assert dome.ShutterStatus.value == 2  # opening
    assert dome.Slewing  # any part of the dome moving
    server.wait(lambda: dome.ShutterStatus.value == 0, 30)  # open
    state = {item["Name"]: item["Value"] for item in dome.DeviceState}
    assert state["ShutterStatus"] == 0
    assert "TimeStamp" in state
    dome.CloseShutter()
    server.wait(lambda: dome.ShutterStatus.value == 1, 30)
    assert server.sim()["shutter"]["both_on"] == 0


def test_rain_closes_the_shutter_parks_and_refuses_opening(server: DomeServer) -> None:
    with server.client() as c:
        assert c.post("/api/dome/shutter/open").status_code == 200
        server.wait(lambda: shutter(server) == "open", 30)
        sim(server, rain=True)
        server.wait(lambda: server.status()["safety"]["state"] == "unsafe", 10)
        server.wait(lambda: shutter(server) == "closed", 30)
        server.wait(lambda: server.status()["state"] == "parked", 120)
        r = c.post("/api/dome/shutter/open")
        assert r.status_code == 409
        assert "rain sensor says unsafe" in r.text
        assert shutter(server) == "closed"
        sim(server, rain=False)
        server.wait(lambda: server.status()["safety"]["state"] == "safe", 10)
        assert c.post("/api/dome/shutter/open").status_code == 200
        server.wait(lambda: shutter(server) == "open", 30)
        assert c.post("/api/dome/shutter/close").status_code == 200
        server.wait(lambda: shutter(server) == "closed", 30)
        assert c.post("/api/dome/unpark").status_code == 200


def test_a_stuck_shutter_is_an_error_with_its_cause(server: DomeServer) -> None:
    with server.client() as c:
        sim(server, shutter_stuck=True)
        assert c.post("/api/dome/shutter/open").status_code == 200
        server.wait(lambda: shutter(server) == "error", 30)
        assert "stuck" in server.status()["shutter"]["error"]
        sim(server, shutter_stuck=False)
        assert c.post("/api/dome/shutter/close").status_code == 200
        server.wait(lambda: shutter(server) == "closed", 30)


def test_alpaca_slaved_follows_the_telescope_until_it_is_lost(
    dome: Dome, server: DomeServer, mount: tuple[SimMount, AlpacaDeviceServer, str]
) -> None:
    sim_mount, telescope, _ = mount
    assert dome.CanSlave
    dome.Slaved = True
    assert dome.Slaved
    status = server.status()
    assert status["tracking"]["slaved"] is True
    assert status["tracking"]["pier_side"] == "west"
    server.wait(lambda: not server.status()["moving"], 90)
    first = server.status()["azimuth"]
    sim_mount.point(50.0, 220.0, side=0)
    server.wait(lambda: abs(shortest_delta(server.status()["azimuth"], first)) > 20, 90)
    server.wait(lambda: server.status()["tracking"]["pier_side"] == "east", 10)
    telescope.offline = True
    try:
        server.wait(lambda: not dome.Slaved, 20)
        assert "stopped following the telescope" in server.status()["tracking_reason"]
    finally:
        telescope.offline = False
    dome.Slaved = True
    dome.Slaved = False
    assert not dome.Slaved
    server.idle()


def test_opening_refused_over_alpaca_says_why(dome: Dome, server: DomeServer) -> None:
    sim(server, rain=True)
    try:
        server.wait(lambda: server.status()["safety"]["state"] == "unsafe", 10)
        with pytest.raises(InvalidOperationException, match="unsafe"):
            dome.OpenShutter()
    finally:
        sim(server, rain=False)
    server.wait(lambda: server.status()["state"] == "parked", 120)
    with server.client() as c:
        c.post("/api/dome/unpark").raise_for_status()


def test_every_series_the_alerts_and_dashboard_read_is_served(server: DomeServer) -> None:
    """The names in infra/monitoring (rules and dashboard) are the names /metrics has."""
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "infra" / "monitoring"
    text = (root / "rules" / "dome.rules.yml").read_text()
    for panel in json.loads((root / "dashboards" / "dome.json").read_text())["panels"]:
        text += " " + " ".join(t["expr"] for t in panel["targets"])
    wanted = {re.sub(r"_(bucket|count|sum)$", "", n) for n in re.findall(r"\bdome_[a-z_]+", text)}
    with server.client() as c:
        metrics = c.get("/metrics").text
    served = set(re.findall(r"^# TYPE (dome_[a-z_]+)", metrics, re.M))
    served |= {re.sub(r"_total$", "", n) for n in served}
    wanted = {re.sub(r"_total$", "", n) for n in wanted}
    assert wanted <= served, wanted - served
