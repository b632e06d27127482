"""Crash-safe recorders: whole rows only, metadata, and recovery from a cut journal."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from daq.core.recorders import (
    CsvRecorder,
    ParquetRecorder,
    parquet_metadata,
    read_csv,
    recover_journals,
)

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
