"""Standard Bluesky plans run by a RunEngine against the daemon on the simulated lab,
through the ophyd devices of daq.bluesky (over real HTTP, instruments on real ptys)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bluesky import RunEngine
from bluesky.plans import count, grid_scan, scan
from bluesky.utils import FailedStatus

from daq.bluesky import DaqClient

pytestmark = pytest.mark.integration
TOKEN = "test-token-0123456789abcdef"  # conftest.TOKEN


@pytest.fixture
def bench(daemon: Any) -> Iterator[tuple[DaqClient, RunEngine, list[tuple[str, dict[str, Any]]]]]:
    client = DaqClient(daemon.url, TOKEN)
    documents: list[tuple[str, dict[str, Any]]] = []
    engine = RunEngine({})
    engine.subscribe(lambda name, doc: documents.append((name, doc)))
    yield client, engine, documents
    client.close()


def events(documents: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [doc["data"] for name, doc in documents if name == "event"]


def test_count_reads_the_meter_with_its_quality(bench: Any) -> None:
    client, engine, documents = bench
    meter = client.reading("meter.power")
    (uid,) = engine(count([meter], num=3))
    data = events(documents)
    assert len(data) == 3
    assert all(d["meter_power_good"] is True and d["meter_power_value"] >= 0 for d in data)
    stop = next(doc for name, doc in documents if name == "stop")
    assert stop["run_start"] == uid
    assert stop["exit_status"] == "success"


def test_scan_moves_the_stage_and_reads_at_each_point(bench: Any) -> None:
    client, engine, documents = bench
    position = client.reading("stage.axis1.position")
    stage_x = client.axis("stage", 1)
    engine(scan([position], stage_x, -2, 2, 5))
    data = events(documents)
    assert [round(d["stage_axis1"], 6) for d in data] == [-2, -1, 0, 1, 2]
    for d in data:
        assert d["stage_axis1_position_value"] == pytest.approx(d["stage_axis1"], abs=1e-6)


def test_grid_scan_over_the_stage_and_a_mount(bench: Any) -> None:
    client, engine, documents = bench
    angle = client.reading("mount0.angle")
    stage_x = client.axis("stage", 1)
    plate = client.mount("mount0")
    engine(grid_scan([angle], stage_x, 0, 1, 2, plate, 0, 90, 3))
    data = events(documents)
    assert len(data) == 6
    grid = [(round(d["stage_axis1"], 6), round(d["mount0"], 2)) for d in data]
    assert sorted(grid) == [(0, 0), (0, 45), (0, 90), (1, 0), (1, 45), (1, 90)]
    for d in data:
        assert d["mount0_angle_value"] == pytest.approx(d["mount0"], abs=0.01)


def test_a_target_past_the_limits_fails_the_plan_and_nothing_moves(bench: Any, daemon: Any) -> None:
    client, engine, _documents = bench
    before = len(daemon.sims.ports["esp300"].received)
    stage_x = client.axis("stage", 1)
    # the move's status fails with the daemon's refusal as its cause
    with pytest.raises(FailedStatus) as failed:
        engine(scan([client.reading("stage.axis1.position")], stage_x, 30, 40, 2))
    cause = failed.value.__cause__ or failed.value.args[-1]
    assert "outside -25 to 25" in str(cause) or "outside -25 to 25" in repr(failed.value)
    sent = bytes(daemon.sims.ports["esp300"].received[before:])
    assert b"PA3" not in sent
    assert b"PA4" not in sent
