"""Crash-safe recorders: whole rows only, metadata, recovery from a cut journal, every
format, and a full disk on a real (small) filesystem."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import pyarrow.parquet as pq
import pytest

from daq.core.errors import StorageError, ValueRefused
from daq.core.recorders import (
    CsvRecorder,
    JournalRecorder,
    Reserve,
    file_metadata,
    open_recorder,
    parquet_metadata,
    read_arrow,
    read_csv,
    recover_journals,
)


def ParquetRecorder(path: Path, columns: list[str], meta: dict[str, Any]) -> JournalRecorder:
    return JournalRecorder(path, columns, meta, "parquet")


META = {"instruments": {"meter": {"kind": "pm1830c", "units": "W"}}, "rate_hz": 10}


def test_csv_is_rfc4180_with_sidecar_metadata(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    rec = CsvRecorder(path, ["meter.power", 'odd,"name'], META)
    rec.write(1_700_000_000.25, [1.5e-3, None], "ok")
    rec.write(1_700_000_000.35, [None, 2.0], 'meter.power: lost, "EIO"')
    before_flush = path.read_bytes()
    rec.flush()
    rec.close({"rows": 2})
    raw = path.read_bytes()
    assert before_flush == b'time_utc,meter.power,"odd,""name",status\r\n'  # rows wait for a flush
    assert raw.count(b"\r\n") == 3
    header, rows = read_csv(path)
    assert header == ["time_utc", "meter.power", 'odd,"name', "status"]
    assert rows[0] == ["2023-11-14T22:13:20.250000Z", "0.0015", "", "ok"]
    assert rows[1][3] == 'meter.power: lost, "EIO"'
    meta = json.loads((tmp_path / "a.csv.meta.json").read_text())
    assert meta["instruments"]["meter"]["units"] == "W"
    assert meta["rows"] == 2


def test_read_csv_drops_a_row_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_bytes(
        b"time_utc,x,status\r\n2023-01-01T00:00:00.000000Z,1.0,ok\r\n2023-01-01T00:00:00.1"
    )
    _, rows = read_csv(path)
    assert rows == [["2023-01-01T00:00:00.000000Z", "1.0", "ok"]]


def test_parquet_goes_through_a_journal_and_keeps_metadata(tmp_path: Path) -> None:
    path = tmp_path / "b.parquet"
    rec = ParquetRecorder(path, ["meter.power"], META)
    rec.write(1_700_000_000.0, [1.0], "ok")
    rec.flush()
    rec.write(1_700_000_001.0, [None], "meter.power: lost")
    assert (tmp_path / "b.parquet.arrows").exists()
    rec.close({"rows": 2})
    assert not (tmp_path / "b.parquet.arrows").exists()
    table = pq.read_table(path)
    assert table.column("meter.power").to_pylist() == [1.0, None]
    assert table.column("status").to_pylist() == ["ok", "meter.power: lost"]
    meta = parquet_metadata(path)
    assert meta["rate_hz"] == 10
    assert meta["rows"] == 2


def test_a_journal_cut_mid_batch_recovers_every_complete_batch(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    rec = ParquetRecorder(path, ["x"], META)
    for second in range(3):
        for i in range(10):
            rec.write(1_700_000_000 + second + i / 10, [float(second * 10 + i)], "ok")
        rec.flush()
    journal = tmp_path / "c.parquet.arrows"
    data = journal.read_bytes()
    journal.write_bytes(data[: len(data) - 40])  # a crash in the middle of the last batch
    assert recover_journals(tmp_path) == [path]
    table = pq.read_table(path)
    assert table.column("x").to_pylist() == [float(v) for v in range(20)]
    assert parquet_metadata(path)["recovered_after_crash"] is True


def test_finalising_streams_the_journal_in_row_groups(tmp_path: Path, monkeypatch: object) -> None:
    import daq.core.recorders as recorders

    monkeypatch.setattr(recorders, "ROW_GROUP_ROWS", 10)  # type: ignore[attr-defined]
    path = tmp_path / "d.parquet"
    rec = ParquetRecorder(path, ["x"], META)
    for second in range(3):
        for i in range(10):
            rec.write(1_700_000_000 + second + i / 10, [float(i)], "ok")
        rec.flush()
    rec.close({})
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    assert pq.read_table(path).num_rows == 30


def read_rows(path: Path) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of a finished file in any format, as plain values."""
    if path.suffix == ".csv":
        header, rows = read_csv(path)
        return header, rows
    if path.suffix == ".h5":
        with h5py.File(path, "r") as h5:
            names = list(h5["readings"])
            times = h5["time_utc"][:].tolist()
            columns = [h5["readings"][n][:].tolist() for n in names]
            status = [s.decode() for s in h5["status"][:]]
        return ["time_utc", *names, "status"], [
            list(r) for r in zip(times, *columns, status, strict=True)
        ]
    table = read_arrow(path) if path.suffix == ".arrow" else pq.read_table(path)
    return table.column_names, [list(r.values()) for r in table.to_pylist()]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "hdf5", "arrow"])
def test_every_format_keeps_rows_and_the_full_metadata(tmp_path: Path, fmt: str) -> None:
    meta = {**META, "operator": "ada", "sample": "BBO #3", "notes": "second run"}
    rec = open_recorder(tmp_path / "run", fmt, ["meter.power", "meter.power.status"], meta)  # type: ignore[arg-type]
    rec.write(1_700_000_000.0, [1.5e-3, 128.0], "ok")
    rec.write(1_700_000_000.5, [None, None], "meter.power: lost")
    rec.flush()
    rec.write(1_700_000_001.0, [2.5e-3, 132.0], "meter.power: saturated")
    ending = rec.close({"state": "finished"})
    assert ending["rows"] == 3
    header, rows = read_rows(rec.path)
    assert header == ["time_utc", "meter.power", "meter.power.status", "status"]
    assert [r[-1] for r in rows] == ["ok", "meter.power: lost", "meter.power: saturated"]
    assert len(rows) == 3
    meta_read = file_metadata(rec.path)
    assert (meta_read["operator"], meta_read["sample"], meta_read["notes"]) == (
        "ada",
        "BBO #3",
        "second run",
    )
    assert meta_read["instruments"]["meter"]["units"] == "W"
    assert meta_read["rows"] == 3
    assert meta_read["state"] == "finished"
    assert not rec.path.with_name(rec.path.name + ".arrows").exists()


def test_hdf5_has_readings_as_datasets_and_settings_as_attributes(tmp_path: Path) -> None:
    meta = {"instruments": {"meter": {"kind": "pm1830c", "wavelength_nm": 800, "range": 0}}}
    rec = open_recorder(tmp_path / "h", "hdf5", ["meter.power"], meta)
    rec.write(1_700_000_000.25, [1e-3], "ok")
    rec.close({})
    with h5py.File(rec.path, "r") as h5:
        assert h5["readings/meter.power"][0] == pytest.approx(1e-3)
        assert h5["time_utc"][0] == 1_700_000_000_250_000
        assert h5["time_utc"].attrs["units"].startswith("microseconds since 1970")
        assert h5["instruments/meter"].attrs["wavelength_nm"] == 800


@pytest.mark.parametrize("fmt", ["csv", "parquet", "hdf5", "arrow"])
def test_repeated_reading_names_are_refused_before_any_file_exists(
    tmp_path: Path, fmt: str
) -> None:
    with pytest.raises(ValueRefused, match=r"repeated: meter\.power"):
        open_recorder(tmp_path / "dup", fmt, ["meter.power", "meter.power"], META)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB filesystem (tmpfs): writes fail with ENOSPC when it is full. Needs
    root, as the tests run here and on CI; without it the test fails, it does not skip."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "hdf5", "arrow"])
def test_a_full_disk_leaves_every_complete_row_readable(small_disk: Path, fmt: str) -> None:
    # a reserve sized for this tiny disk: the Parquet/HDF5 copy needs room to be made
    reserve = Reserve(small_disk, 128 * 1024)
    assert reserve.ensure()
    rec = open_recorder(small_disk / "full", fmt, ["a", "b"], META)  # type: ignore[arg-type]
    written = 0

    def fill() -> None:
        nonlocal written
        for second in range(100_000):
            for i in range(50):
                rec.write(1_700_000_000 + second + i / 50, [float(written), -1.0], "ok")
            rec.flush()
            written += 50

    with pytest.raises(StorageError, match="disk full"):
        fill()
    on_disk = rec.rows
    assert on_disk == written  # the batch that did not fit was cut back off, whole
    reserve.release()  # room to finish the file
    ending = rec.close({"state": "failed", "stop_reason": "disk full"})
    assert ending["rows"] == on_disk
    header, rows = read_rows(rec.path)
    assert len(rows) == on_disk > 0
    assert all(len(r) == len(header) for r in rows)
    meta = file_metadata(rec.path)
    assert meta["rows"] == on_disk
    assert meta["stop_reason"] == "disk full"
    if fmt == "csv":
        assert rec.path.read_bytes().endswith(b"\r\n")  # no torn row
