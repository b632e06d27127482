"""A full disk ends an acquisition cleanly: on a real small filesystem, every complete row
is on disk and readable, the metadata says how many rows and why it stopped, and the job
reports the failure (what the API shows)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daq.core.acquisition import AcquisitionManager, AcquisitionPlan
from daq.core.errors import UnknownReading
from daq.core.instruments import Reading, Sample
from daq.core.jobs import JobRegistry
from daq.core.recorders import Reserve, file_metadata, read_arrow, read_csv
from daq.core.stream import Broadcaster
from daq.metrics import DaqMetrics


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs (needs root, as here and on CI; fails rather than skips)."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def manager(data_dir: Path, reserve: Reserve) -> AcquisitionManager:
    counter = iter(range(10**9))
    readings = {
        "x": Reading(lambda: Sample(float(next(counter)))),
        "y": Reading(lambda: Sample(-1.0, status=128), has_status=True),
    }

    def reading(name: str) -> Reading:
        if name not in readings:
            raise UnknownReading(name, list(readings))
        return readings[name]

    return AcquisitionManager(
        JobRegistry(DaqMetrics()),
        data_dir,
        reading,
        lambda names: {"instruments": {}, "readings": names},
        Broadcaster(),
        reserve,
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet", "arrow"])
def test_full_disk_fails_the_acquisition_and_keeps_every_row(small_disk: Path, fmt: str) -> None:
    acquisitions = manager(small_disk, Reserve(small_disk, 96 * 1024))
    item = acquisitions.start(AcquisitionPlan(["x", "y"], rate_hz=1000, format=fmt))  # type: ignore[arg-type]
    deadline = time.monotonic() + 60
    while item.running:
        assert time.monotonic() < deadline, "the disk never filled"
        time.sleep(0.05)
    assert item.state == "failed"
    assert item.error is not None
    assert "disk full" in item.error
    assert item.rows_on_disk > 0
    meta = file_metadata(item.path)
    assert meta["rows"] == item.rows_on_disk
    assert meta["state"] == "failed"
    assert "disk full" in meta["stop_reason"]
    if fmt == "csv":
        header, rows = read_csv(item.path)
        assert item.path.read_bytes().endswith(b"\r\n")  # no torn row
        assert all(len(r) == len(header) for r in rows)
        count = len(rows)
    elif fmt == "arrow":
        count = read_arrow(item.path).num_rows
    else:
        import pyarrow.parquet as pq

        count = pq.read_table(item.path).num_rows
    assert count == item.rows_on_disk
