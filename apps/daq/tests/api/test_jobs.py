"""Acquisitions, scans and the live stream through the API, against the simulated lab."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import pyarrow.parquet as pq
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from daq.core.recorders import file_metadata, read_arrow, read_csv
from labkit.testing import wait_until

pytestmark = pytest.mark.integration


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    return wait_until(check, timeout=timeout)


def light_up(daemon: Any) -> None:
    c = daemon.client
    daemon.sims.maitai.warmup_started = 0.0  # warm already
    c.put("/api/lasers/laser/emission", json={"on": True, "confirm": True})
    c.put("/api/lasers/laser/shutter", json={"open": True, "confirm": True})
    wait_for(lambda: c.get("/api/lasers/laser").json()["shutter_open"])


def test_mount_scan_end_to_end_traces_malus_law(daemon: Any) -> None:
    c = daemon.client
    light_up(daemon)
    plan = {
        "actuator": {"type": "mount", "name": "mount0"},
        "points": {"start": 0, "stop": 90, "step": 15},
        "readings": ["meter.power", "mount0.angle"],
        "samples_per_point": 2,
    }
    started = c.post("/api/scans", json=plan)
    assert started.status_code == 201, started.text
    ident = started.json()["id"]
    done = wait_for(lambda: (s := c.get(f"/api/scans/{ident}").json())["state"] != "running" and s)
    assert done["state"] == "finished"
    assert done["progress"] == 1.0
    points = done["points"]
    assert [p["targets"]["mount0"] for p in points] == [0, 15, 30, 45, 60, 75, 90]
    power = [p["values"]["meter.power"] for p in points]
    peak = power[0]
    for p, value in zip(points, power, strict=True):
        expected = peak * math.cos(math.radians(2 * p["targets"]["mount0"])) ** 2
        assert value == pytest.approx(expected, rel=0.05, abs=peak * 0.01)
    header, rows = read_csv(Path(done["path"]))
    assert header == [
        "time_utc",
        "mount0.target",
        "mount0.actual",
        "meter.power",
        "meter.power.status",
        "mount0.angle",
        "status",
    ]
    assert len(rows) == 7
    meta = json.loads(Path(done["path"] + ".meta.json").read_text())
    assert meta["axes"][0]["actuator"] == "mount0"
    assert meta["state"] == "finished"
    # every instrument's identity and settings at start, not only those read
    assert set(meta["instruments"]) == {"meter", "mounts", "stage", "laser"}
    assert meta["instruments"]["laser"]["shutter_open"] is True
    assert meta["instruments"]["meter"]["wavelength_nm"] == 800
    assert meta["instruments"]["stage"]["axes"]["axis1"]["limits"] == [-25, 25]
    assert meta["instruments"]["stage"]["identity"].startswith("ESP300")


@pytest.mark.parametrize("fmt", ["parquet", "hdf5", "arrow"])
def test_grid_scan_in_two_dimensions_is_recorded_and_streamed(daemon: Any, fmt: str) -> None:
    c = daemon.client
    ws_url = daemon.url.replace("http", "ws") + "/api/stream"
    plan = {
        "axes": [
            {"actuator": {"type": "axis", "instrument": "stage", "axis": 1}, "points": [0, 2]},
            {"actuator": {"type": "mount", "name": "mount1"}, "points": [0, 30, 60]},
        ],
        "readings": ["stage.axis1.position", "mount1.angle"],
        "format": fmt,
        "operator": "ada",
        "sample": "grid test",
    }
    with connect(ws_url, additional_headers={"Authorization": c.headers["Authorization"]}) as ws:
        started = c.post("/api/scans", json=plan)
        assert started.status_code == 201, started.text
        ident = started.json()["id"]
        first = json.loads(ws.recv(timeout=10))
    assert first["kind"] == "scan"
    assert first["scan"] == ident
    assert first["targets"] == {"stage.axis1": 0, "mount1": 0}
    done = wait_for(lambda: (s := c.get(f"/api/scans/{ident}").json())["state"] != "running" and s)
    assert done["state"] == "finished", done
    assert done["total_points"] == 6
    grid = [(p["targets"]["stage.axis1"], p["targets"]["mount1"]) for p in done["points"]]
    assert grid == [(0, 0), (0, 30), (0, 60), (2, 0), (2, 30), (2, 60)]
    for p in done["points"]:
        assert p["values"]["stage.axis1.position"] == pytest.approx(p["targets"]["stage.axis1"])
        assert p["values"]["mount1.angle"] == pytest.approx(p["targets"]["mount1"], abs=0.01)
    meta = file_metadata(Path(done["path"]))
    assert meta["operator"] == "ada"
    assert meta["rows"] == 6
    assert [a["actuator"] for a in meta["axes"]] == ["stage.axis1", "mount1"]


def test_repeated_reading_names_are_refused_at_start(daemon: Any) -> None:
    before = set((Path(daemon.settings.data_dir) / "acquisitions").glob("*"))
    body = {"readings": ["meter.power", "meter.power"], "rate_hz": 5, "format": "parquet"}
    refused = daemon.client.post("/api/acquisitions", json=body)
    assert refused.status_code == 422
    assert "repeated: meter.power" in refused.text
    assert set((Path(daemon.settings.data_dir) / "acquisitions").glob("*")) == before


def test_stage_scan_can_be_cancelled_and_the_stage_stops(daemon: Any) -> None:
    c = daemon.client
    plan = {
        "actuator": {"type": "axis", "instrument": "stage", "axis": 1},
        "points": {"start": -20, "stop": 20, "step": 10},
        "readings": ["stage.axis1.position"],
        "settle_s": 0.3,
    }
    ident = c.post("/api/scans", json=plan).json()["id"]
    wait_for(lambda: len(c.get(f"/api/scans/{ident}").json()["points"]) >= 1)
    conflict = c.post("/api/scans", json=plan)
    assert conflict.status_code == 409
    assert "already being scanned" in conflict.text
    cancelled = c.post(f"/api/scans/{ident}/cancel").json()
    assert cancelled["state"] == "cancelled"
    assert 1 <= len(cancelled["points"]) < 5
    first = cancelled["points"][0]
    assert first["actuals"]["stage.axis1"] == pytest.approx(-20)
    assert first["values"]["stage.axis1.position"] == pytest.approx(-20)
    assert c.get("/api/stages/stage/axes/1").json()["motion_done"] is True


@pytest.mark.parametrize("fmt", ["csv", "parquet", "hdf5", "arrow"])
def test_acquisition_writes_every_row_with_metadata(daemon: Any, fmt: str) -> None:
    c = daemon.client
    body = {
        "readings": ["meter.power", "laser.wavelength"],
        "rate_hz": 20,
        "format": fmt,
        "duration_s": 1.0,
        "label": "t",
        "operator": "ada",
        "sample": "BBO",
        "notes": "n",
    }
    started = c.post("/api/acquisitions", json=body)
    assert started.status_code == 201, started.text
    ident = started.json()["id"]
    done = wait_for(
        lambda: (a := c.get(f"/api/acquisitions/{ident}").json())["state"] != "running" and a
    )
    assert done["state"] == "finished"
    assert 1 <= done["rows"] <= 21  # as many as the line allowed, never more than asked
    path = Path(done["path"])
    if fmt == "csv":
        header, rows = read_csv(path)
        assert header == [
            "time_utc",
            "meter.power",
            "meter.power.status",
            "laser.wavelength",
            "status",
        ]
        assert len(rows) == done["rows"]
        assert all(r[4] == "ok" and float(r[3]) == 800 for r in rows)
        meta = json.loads(path.with_name(path.name + ".meta.json").read_text())
    elif fmt == "parquet":
        table = pq.read_table(path)
        assert table.num_rows == done["rows"]
        assert table.column("laser.wavelength").to_pylist() == [800.0] * done["rows"]
        meta = file_metadata(path)
    elif fmt == "arrow":
        table = read_arrow(path)
        assert table.num_rows == done["rows"]
        meta = file_metadata(path)
    else:
        with h5py.File(path, "r") as h5:
            assert len(h5["readings/laser.wavelength"]) == done["rows"]
        meta = file_metadata(path)
    assert not path.with_name(path.name + ".arrows").exists()
    assert meta["software"]["daq"]
    assert meta["time_base"]["column"] == "time_utc"
    assert meta["rate_hz"] == 20
    assert meta["instruments"]["meter"]["units"] == "W"
    assert meta["instruments"]["laser"]["kind"] == "maitai"
    assert meta["rows"] == done["rows"]


def test_live_stream_delivers_readings(daemon: Any) -> None:
    c = daemon.client
    ws_url = daemon.url.replace("http", "ws") + "/api/stream"
    with pytest.raises(InvalidStatus, match="403"):
        connect(ws_url + "?token=wrong")
    with connect(ws_url, additional_headers={"Authorization": c.headers["Authorization"]}) as ws:
        ident = c.post(
            "/api/acquisitions", json={"readings": ["meter.power"], "rate_hz": 10}
        ).json()["id"]
        message = json.loads(ws.recv(timeout=5))
        assert message["acquisition"] == ident
        assert message["values"]["meter.power"] >= 0
        assert message["status"] == "ok"
    assert c.post(f"/api/acquisitions/{ident}/stop").json()["state"] == "stopped"
