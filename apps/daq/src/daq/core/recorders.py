"""Crash-safe data files: rows are never torn, and at most the last second is lost.

Both recorders keep rows in memory and write them out whole at least once a second
(the acquisition calls :meth:`flush` on that schedule), then ``fsync``:

- CSV (RFC 4180, CR LF, a header row): complete rows go to the file in one ``write`` on
  an ``O_APPEND`` descriptor, so a killed process leaves whole rows only. A machine crash
  can at worst leave a final row without its CR LF; :func:`read_csv` drops such a row.
- Parquet cannot be appended to and is unreadable until its footer is written, so rows
  go first to an Arrow IPC stream journal (``.arrows``), one record batch per flush; on
  stop the journal becomes the Parquet file. A journal left by a crash is finalised by
  :func:`recover_journals` when the daemon next starts, keeping every complete batch.

Metadata (instruments, their settings, the rate) goes into a ``.meta.json`` sidecar next
to a CSV file, and into the schema metadata of a Parquet file (and its journal).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

TIME = "time_utc"
STATUS = "status"


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)


class Recorder(Protocol):
    path: Path
    rows: int

    def write(self, timestamp: float, values: Sequence[float | None], status: str) -> None: ...
    def flush(self) -> None: ...
    def close(self, summary: dict[str, Any]) -> None: ...


class CsvRecorder:
    def __init__(self, path: Path, readings: Sequence[str], metadata: dict[str, Any]) -> None:
        self.path = path
        self.meta_path = path.with_name(path.name + ".meta.json")
        self.metadata = metadata
        self.rows = 0
        self._pending = io.StringIO()
        self._csv = csv.writer(self._pending, lineterminator="\r\n")
        _write_json_atomically(self.meta_path, metadata)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._csv.writerow([TIME, *readings, STATUS])
        self.flush()

    def write(self, timestamp: float, values: Sequence[float | None], status: str) -> None:
        self._csv.writerow(
            [iso_utc(timestamp), *("" if v is None else repr(v) for v in values), status]
        )
        self.rows += 1

    def flush(self) -> None:
        data = self._pending.getvalue().encode()
        self._pending.seek(0)
        self._pending.truncate()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def close(self, summary: dict[str, Any]) -> None:
        self.flush()
        os.close(self._fd)
        _write_json_atomically(self.meta_path, {**self.metadata, **summary})


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and complete rows; a last row cut short by a machine crash is dropped."""
    text = path.read_bytes().decode()
    if not text.endswith("\r\n"):
        text = text[: text.rfind("\r\n") + 2]
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


class ParquetRecorder:
    def __init__(self, path: Path, readings: Sequence[str], metadata: dict[str, Any]) -> None:
        self.path = path
        self.journal = path.with_name(path.name + ".arrows")
        self.readings = list(readings)
        self.rows = 0
        fields = [pa.field(TIME, pa.timestamp("us", tz="UTC"), nullable=False)]
        fields += [pa.field(name, pa.float64()) for name in self.readings]
        fields.append(pa.field(STATUS, pa.string()))
        self.schema = pa.schema(fields, metadata={"daq": json.dumps(metadata, sort_keys=True)})
        self.metadata = metadata
        self._times: list[int] = []
        self._columns: list[list[float | None]] = [[] for _ in self.readings]
        self._status: list[str] = []
        self._file = open(self.journal, "xb", buffering=0)  # noqa: SIM115 - lives until close()
        self._writer = ipc.new_stream(self._file, self.schema)
        os.fsync(self._file.fileno())

    def write(self, timestamp: float, values: Sequence[float | None], status: str) -> None:
        self._times.append(int(timestamp * 1_000_000))
        for column, value in zip(self._columns, values, strict=True):
            column.append(value)
        self._status.append(status)
        self.rows += 1

    def write_columns(
        self, timestamps: Sequence[int], columns: Sequence[Sequence[float | None]]
    ) -> None:
        """Many rows at once (microsecond timestamps), for bulk writers and benchmarks."""
        self._times.extend(timestamps)
        for column, values in zip(self._columns, columns, strict=True):
            column.extend(values)
        self._status.extend(["ok"] * len(timestamps))
        self.rows += len(timestamps)

    def flush(self) -> None:
        if not self._times:
            return
        arrays = [pa.array(self._times, pa.timestamp("us", tz="UTC"))]
        arrays += [pa.array(column, pa.float64()) for column in self._columns]
        arrays.append(pa.array(self._status, pa.string()))
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        os.fsync(self._file.fileno())
        self._times = []
        self._columns = [[] for _ in self.readings]
        self._status = []

    def close(self, summary: dict[str, Any]) -> None:
        self.flush()
        self._writer.close()
        self._file.close()
        finalize_journal(self.journal, self.path, summary)


def journal_batches(journal: Path) -> Iterator[pa.RecordBatch]:
    """Every complete record batch of a journal; a batch cut short by a crash ends it."""
    with open(journal, "rb") as handle:
        reader = ipc.open_stream(handle)
        while True:
            try:
                yield reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowInvalid, OSError):
                return


def read_journal(journal: Path) -> pa.Table:
    with open(journal, "rb") as handle:
        schema = ipc.open_stream(handle).schema
    return pa.Table.from_batches(list(journal_batches(journal)), schema=schema)


ROW_GROUP_ROWS = 256_000


def finalize_journal(journal: Path, path: Path, summary: dict[str, Any]) -> None:
    """Journal → Parquet, streaming: memory stays bounded by one row group however long
    the acquisition ran."""
    with open(journal, "rb") as handle:
        schema = ipc.open_stream(handle).schema
    metadata = json.loads((schema.metadata or {}).get(b"daq", b"{}"))
    metadata.update(summary)
    schema = schema.with_metadata({"daq": json.dumps(metadata, sort_keys=True)})
    tmp = path.with_name(path.name + ".tmp")
    pending: list[pa.RecordBatch] = []
    rows = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for batch in journal_batches(journal):
            pending.append(batch)
            rows += batch.num_rows
            if rows >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending, schema=schema))
                pending, rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema=schema))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)
    journal.unlink()


def recover_journals(directory: Path) -> list[Path]:
    """Turn journals a crash left behind into Parquet files; returns the files made."""
    made = []
    for journal in sorted(directory.glob("*.parquet.arrows")):
        target = journal.with_name(journal.name.removesuffix(".arrows"))
        with contextlib.suppress(pa.ArrowInvalid, OSError):
            finalize_journal(journal, target, {"recovered_after_crash": True})
            made.append(target)
    return made


def parquet_metadata(path: Path) -> dict[str, Any]:
    schema = pq.read_schema(path)
    result: dict[str, Any] = json.loads((schema.metadata or {}).get(b"daq", b"{}"))
    return result
