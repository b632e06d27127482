"""The API and core in-process (``make check``): routes call core, core keeps instruments
honest, errors come back as problem bodies, and bad input sends nothing. The instruments
are the simulators on loopback transports (see tests/inprocess.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from daq.core.recorders import file_metadata

InProcess = Any  # conftest.InProcess: the daemon in-process (fixture ``daq``)


def test_instruments_come_up_and_readings_carry_their_quality(daq: InProcess) -> None:
    listing = daq.get("/api/instruments").json()
    assert {i["name"]: i["up"] for i in listing} == {
        "stage": True,
        "meter": True,
        "laser": True,
        "mounts": True,
    }
    reading = daq.get("/api/readings/meter.power").json()
    assert reading["good"] is True
    assert reading["flags"] == []
    assert reading["status"] & 128


def test_a_saturated_reading_is_not_good(daq: InProcess) -> None:
    daq.sims.world.laser_output = lambda now: 100.0
    reading = daq.get("/api/readings/meter.power").json()
    assert reading["good"] is False
    assert reading["flags"] == ["saturated"]
    state = daq.get("/api/powermeters/meter").json()
    assert state["flags"] == ["saturated"]


def test_a_silent_instrument_is_down_until_a_good_exchange(daq: InProcess) -> None:
    port = daq.ports["1830c"]
    port.silent = True
    first = daq.get("/api/readings/meter.power")
    assert first.status_code == 504
    assert first.json()["code"] == "no_answer"
    second = daq.get("/api/readings/meter.power")
    assert second.status_code == 503
    assert second.json()["code"] == "instrument_down"
    assert daq.get("/api/instruments/meter").json()["up"] is False
    port.silent = False
    assert daq.get("/api/readings/meter.power").status_code == 200
    assert daq.get("/api/instruments/meter").json()["up"] is True


def test_unplugged_port_is_503_and_comes_back(daq: InProcess) -> None:
    daq.ports["maitai"].unplugged = True
    gone = daq.get("/api/readings/laser.wavelength")
    assert gone.status_code == 503
    daq.ports["maitai"].unplugged = False
    assert daq.get("/api/readings/laser.wavelength").json()["value"] == 800


def test_a_repeated_move_request_moves_once(daq: InProcess) -> None:
    body = {"position": 1.5, "relative": True, "request_id": "r-1"}
    first = daq.post("/api/stages/stage/axes/1/move", json=body).json()
    again = daq.post("/api/stages/stage/axes/1/move", json=body).json()
    assert first["target"] == again["target"] == 1.5
    assert bytes(daq.ports["esp300"].received).count(b"1PA1.5\r") == 1
    other = daq.post("/api/stages/stage/axes/1/move", json={**body, "position": 2})
    assert other.status_code == 422  # the same id for another move
    assert "request_id" in other.json()["detail"]


def test_a_controller_error_is_blamed_on_its_command(daq: InProcess) -> None:
    daq.sims.esp300.axes[1].motor = False
    refused = daq.post("/api/stages/stage/axes/1/move", json={"position": 3})
    assert refused.status_code == 502
    assert refused.json()["detail"] == "error 113: axis 1: motor not enabled (after '1PA3')"
    assert daq.get("/api/instruments/stage").json()["up"] is True  # it answered: up


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "problem"),
    [
        ("post", "/api/stages/stage/axes/1/move", {"position": 30}, 422, "outside -25 to 25"),
        (
            "put",
            "/api/powermeters/meter/settings",
            {"wavelength_nm": 2000, "filter": 2},
            422,
            "wavelength",
        ),
        ("put", "/api/lasers/laser/emission", {"on": True}, 403, "confirm"),
        ("put", "/api/mounts/mount0/velocity", {"percent": 101}, 422, "percent"),
        (
            "post",
            "/api/acquisitions",
            {"readings": ["meter.power", "meter.power"], "rate_hz": 1},
            422,
            "repeated",
        ),
        (
            "post",
            "/api/scans",
            {
                "axes": [
                    {"actuator": {"type": "mount", "name": "mount0"}, "points": [0, 10]},
                    {
                        "actuator": {"type": "axis", "instrument": "stage", "axis": 1},
                        "points": [0, 40],
                    },
                ],
                "readings": ["meter.power"],
            },
            422,
            "outside -25 to 25",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_is_sent(
    daq: InProcess, method: str, path: str, body: object, status: int, problem: str
) -> None:
    before = daq.sent()
    response = daq.request(method.upper(), path, json=body)
    assert response.status_code == status, response.text
    assert problem in response.text
    assert daq.sent() == before


def test_mount_stop_velocity_and_status_text(daq: InProcess) -> None:
    assert daq.put("/api/mounts/mount1/velocity", json={"percent": 60}).status_code == 200
    state = daq.post("/api/mounts/mount1/move", json={"angle_deg": 20}).json()
    assert state["velocity_percent"] == 60
    assert state["status_text"] == "ok"
    assert daq.post("/api/mounts/mount1/stop").status_code == 200


def test_meter_reference_and_units(daq: InProcess) -> None:
    assert daq.put("/api/powermeters/meter/settings", json={"units": "REL"}).status_code == 200
    assert daq.post("/api/powermeters/meter/reference").status_code == 200
    assert daq.get("/api/readings/meter.power").json()["value"] == pytest.approx(1.0, rel=0.05)


def wait_done(daq: InProcess, path: str, timeout: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        state: dict[str, object] = daq.get(path).json()
        if state["state"] != "running":
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.05)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "hdf5", "arrow"])
def test_acquisition_and_grid_scan_in_every_format(daq: InProcess, fmt: str) -> None:
    body = {
        "readings": ["meter.power", "mount0.angle"],
        "rate_hz": 20,
        "duration_s": 0.3,
        "format": fmt,
        "operator": "ada",
        "sample": "s1",
        "notes": "in-process",
    }
    started = daq.post("/api/acquisitions", json=body)
    assert started.status_code == 201, started.text
    done = wait_done(daq, f"/api/acquisitions/{started.json()['id']}")
    assert done["state"] == "finished"
    meta = file_metadata(Path(str(done["path"])))
    assert meta["rows"] == done["rows_on_disk"]
    assert (meta["operator"], meta["sample"], meta["notes"]) == ("ada", "s1", "in-process")
    assert meta["instruments"]["meter"]["identity"]
    plan = {
        "axes": [
            {"actuator": {"type": "axis", "instrument": "stage", "axis": 2}, "points": [0, 1]},
            {
                "actuator": {"type": "mount", "name": "mount0"},
                "points": {"start": 0, "stop": 20, "step": 10},
            },
        ],
        "readings": ["stage.axis2.position"],
        "format": fmt,
    }
    scan = daq.post("/api/scans", json=plan)
    assert scan.status_code == 201, scan.text
    finished = wait_done(daq, f"/api/scans/{scan.json()['id']}")
    assert finished["state"] == "finished", finished
    assert finished["total_points"] == 6
    assert file_metadata(Path(str(finished["path"])))["rows"] == 6


def test_a_full_disk_is_reported_by_the_api(tmp_path: Path, inprocess: Any) -> None:
    """The data directory on a real 256 KiB tmpfs (root, as here and on CI): the
    acquisition ends as failed, the API says why, and the file keeps every whole row."""
    import subprocess

    from daq.core.recorders import read_csv

    small = tmp_path / "small"
    small.mkdir()
    (tmp_path / "dev").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], check=True)
    try:
        # a reserve sized for this tiny disk: let go, it leaves room to finish the metadata
        with inprocess(tmp_path, data_dir=str(small), storage_reserve_mb=0.1) as daq:
            body = {"readings": ["stage.axis1.position"], "rate_hz": 1000, "format": "csv"}
            ident = daq.post("/api/acquisitions", json=body).json()["id"]
            done = wait_done(daq, f"/api/acquisitions/{ident}", timeout=60)
            assert done["state"] == "failed"
            assert "disk full" in str(done["error"])
            path = Path(str(done["path"]))
            _, rows = read_csv(path)
            assert len(rows) == done["rows_on_disk"] > 0
            assert path.read_bytes().endswith(b"\r\n")
            assert file_metadata(path)["stop_reason"].startswith("disk full")
    finally:
        subprocess.run(["umount", "-l", str(small)], check=True)
