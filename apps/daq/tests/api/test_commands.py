"""The API against the simulated lab over real HTTP and real ptys: typed commands, safety,
and bad input refused with a 4xx naming the problem and nothing sent to any instrument."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from daq.assembly import build_lab
from daq.config import DaqSettings
from daq.core.errors import SafetyRefused, ValueRefused
from daq.core.instruments import Laser, StageController
from labkit.testing import wait_until

pytestmark = pytest.mark.integration


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    return wait_until(check, timeout=timeout)


def test_every_route_needs_the_token(daemon: Any) -> None:
    before = daemon.received()
    bare = httpx.Client(base_url=daemon.url)
    assert bare.get("/api/instruments").status_code == 401
    wrong = bare.post(
        "/api/stages/stage/axes/1/move",
        json={"position": 1},
        headers={"Authorization": "Bearer nope"},
    )
    assert wrong.status_code == 403
    assert daemon.received() == before


def test_instruments_are_listed_and_up(daemon: Any) -> None:
    listing = daemon.client.get("/api/instruments").json()
    assert {i["name"]: i["up"] for i in listing} == {
        "stage": True,
        "meter": True,
        "laser": True,
        "mounts": True,
    }
    assert "meter.power" in daemon.client.get("/api/readings").json()


BAD_INPUTS = [
    ("post", "/api/stages/stage/axes/1/move", {"position": 30}, 422, "outside -25 to 25"),
    (
        "post",
        "/api/stages/stage/axes/1/move",
        {"position": -60, "relative": True},
        422,
        "outside -50 to 50",
    ),
    ("post", "/api/stages/stage/axes/3/move", {"position": 1}, 422, "axis 3 is not configured"),
    ("post", "/api/stages/nostage/axes/1/move", {"position": 1}, 404, "no esp300 named 'nostage'"),
    ("post", "/api/stages/meter/abort", None, 404, "no esp300 named 'meter'"),
    ("post", "/api/stages/stage/axes/1/home", {"mode": 9}, 422, "mode"),
    (
        "put",
        "/api/stages/stage/axes/1/motion",
        {"velocity": 1, "acceleration": 1e9},
        422,
        "outside",
    ),
    (
        "put",
        "/api/powermeters/meter/settings",
        {"wavelength_nm": 2000, "filter": 2},
        422,
        "wavelength",
    ),
    ("put", "/api/powermeters/meter/settings", {"range": 9}, 422, "range"),
    ("put", "/api/lasers/laser/wavelength", {"nm": 1200}, 422, "outside 690 to 1040"),
    ("put", "/api/lasers/laser/emission", {"on": True}, 403, "confirm"),
    ("put", "/api/lasers/laser/shutter", {"open": True, "confirm": False}, 403, "confirm"),
    ("post", "/api/mounts/mount0/move", {"angle_deg": 400}, 422, "outside 0 to 360"),
    ("post", "/api/mounts/mount9/move", {"angle_deg": 4}, 404, "no ell14 mount named 'mount9'"),
    ("post", "/api/mounts/mount1/jog", {"step_deg": 0}, 422, "step_deg"),
    (
        "post",
        "/api/acquisitions",
        {"readings": ["meter.volts"], "rate_hz": 10},
        422,
        "no reading named 'meter.volts'",
    ),
    ("post", "/api/acquisitions", {"readings": ["meter.power"], "rate_hz": 0}, 422, "rate_hz"),
    (
        "post",
        "/api/scans",
        {
            "actuator": {"type": "mount", "name": "mount0"},
            "points": [0, 90, 361],
            "readings": ["meter.power"],
        },
        422,
        "outside 0 to 360",
    ),
    (
        "post",
        "/api/scans",
        {
            "actuator": {"type": "axis", "instrument": "stage", "axis": 1},
            "points": {"start": 0, "stop": 30, "step": 5},
            "readings": ["meter.power"],
        },
        422,
        "outside -25 to 25",
    ),
    ("get", "/api/acquisitions/acq-nope", None, 404, "no acquisition"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "problem"),
    BAD_INPUTS,
    ids=[f"{b[1]} {b[2]}" for b in BAD_INPUTS],
)
def test_bad_input_is_refused_and_nothing_is_sent(
    daemon: Any, method: str, path: str, body: Any, status: int, problem: str
) -> None:
    before = daemon.received()
    response = daemon.client.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert problem in response.text
    time.sleep(0.05)
    assert daemon.received() == before, "bytes reached an instrument"


def test_a_cold_laser_is_started_by_the_documented_sequence(daemon: Any) -> None:
    """Cold: ON starts the warm-up; warm: ON again (shutter closed) starts emission. The
    laser's own thread sends the second ON once warm-up reports 100 %."""
    c = daemon.client
    cold = c.get("/api/lasers/laser").json()
    assert (cold["phase"], cold["warmup_percent"], cold["emission"]) == ("cold", 0, False)
    started = c.put("/api/lasers/laser/emission", json={"on": True, "confirm": True})
    assert started.status_code == 200, started.text
    assert started.json()["detail"] == "warming"
    state = wait_for(lambda: (s := c.get("/api/lasers/laser").json())["emission"] and s)
    assert state["phase"] == "emitting"
    assert state["shutter_open"] is False  # ON never opens the shutter
    sent = bytes(daemon.sims.ports["maitai"].received)
    assert sent.count(b"ON\n") == 2
    assert (
        c.put("/api/lasers/laser/shutter", json={"open": True, "confirm": True}).status_code == 200
    )
    # the shutter is confirmed by reading it back (it lags): open as soon as the call returns
    state = c.get("/api/lasers/laser").json()
    assert state["shutter_open"] is True
    assert state["modelocked"] is True
    assert state["power_w"] > 1
    assert c.get("/api/readings/meter.power").json()["value"] > 1e-5
    assert c.put("/api/lasers/laser/shutter", json={"open": False}).status_code == 200
    assert c.put("/api/lasers/laser/emission", json={"on": False}).status_code == 200
    assert c.get("/api/lasers/laser").json()["phase"] == "warm"


def test_laser_emission_is_refused_with_the_shutter_open(daemon: Any) -> None:
    c = daemon.client
    daemon.sims.maitai.warmup_started = 0.0  # warm
    daemon.sims.maitai.shutter_command = True  # the shutter left open by hand
    daemon.sims.maitai.shutter_changed = -1e9
    refused = c.put("/api/lasers/laser/emission", json={"on": True, "confirm": True})
    assert refused.status_code == 403
    assert "shutter is open" in refused.text
    assert b"ON\n" not in bytes(daemon.sims.ports["maitai"].received)


def test_laser_refused_while_interlock_setting_is_open(sims: Any, tmp_path: Any) -> None:
    config = sims.config(tmp_path / "data")
    config["safety"] = {"laser_interlock_closed": False}
    lab = build_lab(DaqSettings(api_token="x" * 20, **config))
    laser = lab.get("laser", Laser)
    before = len(sims.ports["maitai"].received)
    with pytest.raises(SafetyRefused, match="interlock"):
        laser.request_emission(confirm=True)
    with pytest.raises(SafetyRefused, match="interlock"):
        laser.set_shutter(True, confirm=True)
    laser.connect()
    laser.set_shutter(False, confirm=False)  # closing is always allowed
    assert b"SHUT 0\n" in sims.ports["maitai"].received
    sent = bytes(sims.ports["maitai"].received[before:])
    assert b"SHUT 1" not in sent
    assert b"ON\n" not in sent


def test_stage_moves_and_reports(daemon: Any) -> None:
    c = daemon.client
    moved = c.post("/api/stages/stage/axes/1/move", json={"position": 5, "wait": True}).json()
    assert moved == {"axis": 1, "position": pytest.approx(5), "motion_done": True, "target": 5}
    c.post("/api/stages/stage/axes/1/move", json={"position": -1, "relative": True, "wait": True})
    assert c.get("/api/stages/stage/axes/1").json()["position"] == pytest.approx(4)


def test_a_repeated_relative_move_request_moves_once(daemon: Any) -> None:
    c = daemon.client
    body = {"position": 2, "relative": True, "wait": True, "request_id": "move-42"}
    first = c.post("/api/stages/stage/axes/1/move", json=body).json()
    again = c.post("/api/stages/stage/axes/1/move", json=body).json()
    assert first["target"] == again["target"] == pytest.approx(2)
    assert c.get("/api/stages/stage/axes/1").json()["position"] == pytest.approx(2)
    assert bytes(daemon.sims.ports["esp300"].received).count(b"1PA2\r") == 1


def test_power_meter_settings_are_applied(daemon: Any) -> None:
    c = daemon.client
    assert (
        c.put(
            "/api/powermeters/meter/settings",
            json={"wavelength_nm": 633, "filter": 2, "units": "dBm"},
        ).status_code
        == 200
    )
    state = c.get("/api/powermeters/meter").json()
    assert (state["wavelength_nm"], state["filter"], state["units"]) == (633, 2, "dBm")
    assert state["power"] < 0  # dark, in dBm


def test_mounts_move_jog_and_home(daemon: Any) -> None:
    c = daemon.client
    assert c.post("/api/mounts/mount1/move", json={"angle_deg": 30}).json()[
        "angle_deg"
    ] == pytest.approx(30, abs=0.01)
    jog = c.post("/api/mounts/mount1/jog", json={"step_deg": 10}).json()
    assert jog["angle_deg"] == pytest.approx(40, abs=0.01)
    assert jog["pulses_per_revolution"] == 143360
    assert c.post("/api/mounts/mount1/home", json={}).json()["angle_deg"] == 0


def test_metrics_expose_up_readings_latency(daemon: Any) -> None:
    daemon.client.get("/api/readings/meter.power")
    text = httpx.get(f"{daemon.url}/metrics").text
    assert 'daq_instrument_up{instrument="meter",kind="pm1830c"} 1.0' in text
    assert "daq_reading_value" not in text  # measured values are not exported unauthenticated
    assert "daq_data_dir_free_bytes" in text
    assert 'daq_command_duration_seconds_count{command="power",instrument="meter"}' in text
    assert 'daq_reconnects_total{instrument="meter"} 0.0' in text
    assert httpx.get(f"{daemon.url}/healthz").status_code == 200


def test_shutdown_closes_the_shutter_and_stops_stages(daemon: Any) -> None:
    c = daemon.client
    daemon.sims.maitai.warmup_started = 0.0  # warm
    c.put("/api/lasers/laser/emission", json={"on": True, "confirm": True})
    c.put("/api/lasers/laser/shutter", json={"open": True, "confirm": True})
    c.post("/api/stages/stage/axes/1/move", json={"position": 20})  # takes a second
    daemon.lab.shutdown()
    # the simulator acts on the bytes once they have crossed the (paced) line
    wait_for(lambda: daemon.sims.maitai.shutter_open(time.monotonic() + 1) is False, timeout=2)
    axis = daemon.sims.esp300.axes[1]
    assert not axis.moving(time.monotonic())
    assert axis.position(time.monotonic()) < 20


def test_instrument_faults_become_gateway_errors_and_the_link_recovers(daemon: Any) -> None:
    c = daemon.client
    port = daemon.sims.ports["1830c"]
    port.fault = "silence"
    silent = c.get("/api/readings/meter.power")
    assert silent.status_code == 504
    assert "no complete reply" in silent.json()["detail"]
    # down until a good exchange: no value, even a stale one, while the meter is silent
    assert c.get("/api/instruments/meter").json()["up"] is False
    assert c.get("/api/readings/meter.power").status_code == 503
    port.fault = "garbage"
    garbage = c.get("/api/readings/meter.power")
    assert garbage.status_code == 503
    assert "not ASCII" in garbage.json()["detail"]
    assert c.get("/api/instruments/meter").json()["last_error"]
    port.fault = None
    time.sleep(0.1)
    assert c.get("/api/readings/meter.power").status_code == 200
    assert c.get("/api/instruments/meter").json()["up"] is True
    text = httpx.get(f"{daemon.url}/metrics").text
    assert 'daq_instrument_errors_total{error="ReplyTimeout",instrument="meter"}' in text
    assert 'daq_instrument_errors_total{error="BadReply",instrument="meter"}' in text


def test_an_error_the_controller_reports_is_never_lost(daemon: Any) -> None:
    daemon.sims.esp300.axes[1].motor = False  # as if the motor had been switched off (MF)
    response = daemon.client.post("/api/stages/stage/axes/1/move", json={"position": 3})
    assert response.status_code == 502
    assert response.json()["detail"] == ("error 113: axis 1: motor not enabled (after '1PA3')")
    daemon.sims.esp300.axes[1].motor = True
    assert (
        daemon.client.post("/api/stages/stage/axes/1/move", json={"position": 3}).status_code == 200
    )


def test_axis_limits_narrow_to_the_controllers_own(sims: Any, tmp_path: Any) -> None:
    config = sims.config(tmp_path / "data")
    config["instruments"][0]["axes"][0].update(minimum=-30, maximum=30)
    lab = build_lab(DaqSettings(api_token="x" * 20, **config))
    stage = lab.get("stage", StageController)
    stage.connect()
    assert (stage.driver.axis(1).limits.minimum, stage.driver.axis(1).limits.maximum) == (-25, 25)
    before = len(sims.ports["esp300"].received)
    with pytest.raises(ValueRefused, match="outside -25 to 25"):
        stage.driver.axis(1).move_to(27)
    assert len(sims.ports["esp300"].received) == before


def test_laser_range_narrows_to_what_the_laser_reports(sims: Any, tmp_path: Any) -> None:
    sims.maitai.minimum, sims.maitai.maximum = 700, 1000
    config = sims.config(tmp_path / "data")
    lab = build_lab(DaqSettings(api_token="x" * 20, **config))
    laser = lab.get("laser", Laser)
    laser.connect()
    assert laser.driver.wavelength_range == (700, 1000)
    with pytest.raises(ValueRefused, match="outside 700 to 1000"):
        laser.set_wavelength(1020)
