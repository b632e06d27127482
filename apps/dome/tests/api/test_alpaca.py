"""The Alpaca Dome API driven by the ASCOM Initiative's own client (alpyca) against the
real processes in simulation, plus the envelopes and access rules checked on the wire."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from alpaca import management
from alpaca.dome import Dome
from alpaca.exceptions import (
    InvalidValueException,
    NotConnectedException,
    NotImplementedException,
)

from dome.api.alpaca import client_allowed
from dome.api.app import create_app
from dome.config import DomeSettings
from dome.core.angles import shortest_delta
from tests.conftest import DomeServer

pytestmark = pytest.mark.integration
ONE_COUNT = 360 / 1024


@pytest.fixture
def dome(dome_server: DomeServer) -> Iterator[Dome]:
    d = Dome(dome_server.url.removeprefix("http://"), 0)
    d.Connected = True
    yield d
    d.Connected = False


def wait_still(d: Dome, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while d.Slewing:
        assert time.monotonic() < deadline, "still slewing"
        time.sleep(0.1)


def test_slew_sync_abort_through_alpyca(dome: Dome) -> None:
    assert dome.Connected
    assert dome.CanSetAzimuth
    assert dome.CanSyncAzimuth
    assert dome.CanPark
    assert dome.CanFindHome
    assert not dome.CanSetShutter
    assert not dome.CanSetAltitude
    assert not dome.CanSlave
    dome.SlewToAzimuth(75.0)
    assert dome.Slewing
    wait_still(dome)
    assert abs(shortest_delta(dome.Azimuth, 75.0)) <= ONE_COUNT
    dome.SyncToAzimuth(80.0)
    assert abs(shortest_delta(dome.Azimuth, 80.0)) <= ONE_COUNT
    dome.SyncToAzimuth(75.0)
    dome.SlewToAzimuth(250.0)
    time.sleep(0.3)
    dome.AbortSlew()
    assert not dome.Slewing
    with pytest.raises(InvalidValueException):
        dome.SlewToAzimuth(400.0)
    with pytest.raises(NotImplementedException):
        _ = dome.ShutterStatus
    with pytest.raises(NotImplementedException):
        dome.OpenShutter()
    assert dome.InterfaceVersion == 3
    assert dome.Name


def test_park_home_and_a_slew_while_parked_unparks(dome: Dome, dome_server: DomeServer) -> None:
    wait_still(dome)
    here = dome.Azimuth
    with dome_server.client() as c:  # home 10 degrees away, park where it is: a short test
        c.put("/api/dome/home-position", json={"azimuth": (here + 10) % 360}).raise_for_status()
    dome.SetPark()
    dome.Park()
    wait_still(dome)
    assert dome.AtPark
    dome.SlewToAzimuth((here + 5) % 360)  # any slew resets AtPark, per the spec
    assert not dome.AtPark
    wait_still(dome)
    assert abs(shortest_delta(dome.Azimuth, (here + 5) % 360)) <= ONE_COUNT
    dome.Park()
    wait_still(dome)
    assert dome.AtPark
    dome.FindHome()
    wait_still(dome)
    assert dome.AtHome
    assert not dome.AtPark


def test_not_connected_is_refused(dome_server: DomeServer) -> None:
    d = Dome(dome_server.url.removeprefix("http://"), 0)
    d.Connected = False
    with pytest.raises(NotConnectedException):
        d.SlewToAzimuth(10.0)


def test_management_api(dome_server: DomeServer) -> None:
    addr = dome_server.url.removeprefix("http://")
    assert management.apiversions(addr) == [1]
    devices = management.configureddevices(addr)
    assert devices[0]["DeviceType"] == "Dome"
    assert devices[0]["DeviceNumber"] == 0
    assert "ServerName" in management.description(addr)


def test_envelopes_and_malformed_requests(dome_server: DomeServer) -> None:
    base = f"{dome_server.url}/api/v1/dome/0"
    with httpx.Client() as c:
        c.put(f"{base}/connected", data={"Connected": "True", "ClientID": "3"}).raise_for_status()
        body = c.get(f"{base}/azimuth", params={"clienttransactionid": "77"}).json()
        assert set(body) == {
            "Value",
            "ClientTransactionID",
            "ServerTransactionID",
            "ErrorNumber",
            "ErrorMessage",
        }
        assert body["ClientTransactionID"] == 77
        assert body["ErrorNumber"] == 0
        put = c.put(
            f"{base}/slewtoazimuth", data={"azimuth": "400", "ClientTransactionID": "5"}
        ).json()
        assert put["ErrorNumber"] == 0x401
        assert "Azimuth" in put["ErrorMessage"]
        assert "Value" not in put
        nan = c.put(f"{base}/slewtoazimuth", data={"Azimuth": "nan"}).json()
        assert nan["ErrorNumber"] == 0x401
        for bad in ({"Azimuth": "north"}, {}):
            r = c.put(f"{base}/slewtoazimuth", data=bad)
            assert r.status_code == 400
            assert "Azimuth" in r.text
        r = c.get(f"{base}/azimuth", params={"ClientTransactionID": "-1"})
        assert r.status_code == 400
        assert "ClientTransactionID" in r.text
        assert c.get(f"{dome_server.url}/api/v1/dome/7/azimuth").status_code == 400
        unknown = c.get(f"{base}/nosuchthing").json()
        assert unknown["ErrorNumber"] == 0x400
    assert not dome_server.status()["moving"]


def test_discovery_answers_on_loopback(dome_server: DomeServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(b"alpacadiscovery1", ("127.0.0.1", dome_server.discovery_port))
        data, _ = s.recvfrom(1024)
    assert json.loads(data) == {"AlpacaPort": int(dome_server.url.rsplit(":", 1)[1])}


def test_client_allow_list() -> None:
    assert client_allowed("127.0.0.1", [])
    assert client_allowed("::1", [])
    assert not client_allowed("192.0.2.7", [])
    assert client_allowed("192.0.2.7", ["192.0.2.0/24"])
    assert not client_allowed("not-an-ip", ["0.0.0.0/0"])


def _asgi(settings: dict[str, Any], client: tuple[str, int]) -> httpx.AsyncClient:
    """The app in-process, so the client address can be one a test may not use on the
    wire (RFC 5737 documentation addresses); no packet leaves the process."""
    app = create_app(DomeSettings(**settings), simulated=True)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=client), base_url="http://dome"
    )


@pytest.mark.parametrize(
    ("settings", "client", "headers", "code"),
    [
        ({"alpaca_access": "off"}, ("127.0.0.1", 5000), {}, 403),
        ({}, ("192.0.2.7", 5000), {}, 403),  # a public address: refused by default
        ({}, ("192.168.1.20", 5000), {}, 200),  # the observatory's LAN: allowed by default
        ({}, ("10.4.0.9", 5000), {}, 200),
        ({}, ("203.0.113.5", 5000), {}, 403),
        ({"alpaca_allow_networks": ["192.0.2.0/24"]}, ("192.0.2.7", 5000), {}, 200),
        ({"alpaca_basic_user": "obs", "alpaca_basic_password": "pw"}, ("127.0.0.1", 5000), {}, 401),
        (
            {"alpaca_basic_user": "obs", "alpaca_basic_password": "pw"},
            ("127.0.0.1", 5000),
            {"Authorization": "Basic " + base64.b64encode(b"obs:pw").decode()},
            200,
        ),
        (
            {"alpaca_basic_user": "obs", "alpaca_basic_password": "pw"},
            ("127.0.0.1", 5000),
            {"Authorization": "Basic " + base64.b64encode(b"obs:nope").decode()},
            401,
        ),
    ],
)
def test_alpaca_access_config(
    settings: dict[str, Any], client: tuple[str, int], headers: dict[str, str], code: int
) -> None:
    async def run() -> tuple[int, int]:
        async with _asgi(settings, client) as c:
            r = await c.get("/api/v1/dome/0/connected", headers=headers)
            m = await c.get("/management/apiversions", headers=headers)
            return r.status_code, m.status_code

    assert asyncio.run(run()) == (code, code)
