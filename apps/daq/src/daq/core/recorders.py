"""Crash-safe data files: rows are never torn, at most the last second is lost, and a full
disk ends a recording with every complete row readable.

Every recorder keeps rows in memory and writes them out whole at least once a second (the
job calls :meth:`Recorder.flush` on that schedule), then ``fsync``:

- **CSV** (RFC 4180, CR LF, a header row): complete rows go to the file in one ``write``
  on an ``O_APPEND`` descriptor. If the disk fills in the middle of that write, the file
  is cut back to its last complete row before the error goes up, so no torn row is left.
  A machine crash can at worst leave a final row without its CR LF; :func:`read_csv`
  drops such a row. Metadata goes to a ``<file>.meta.json`` sidecar.
- **Parquet, HDF5 and Arrow IPC** go through an Arrow IPC *stream* journal
  (``<file>.arrows``), one record batch per flush; a batch the disk could not take is cut
  back off. A Parquet or HDF5 file is unreadable until it is closed, so when the recording
  ends the journal is copied into it, streaming batch by batch (bounded memory). For Arrow
  IPC the journal *is* the file (the IPC stream format): it is closed with a last, empty
  batch carrying the ending in its custom metadata and renamed, with no copy, so it
  finishes even on a full disk. A journal left by a crash is turned into its file when
  the daemon next starts (:func:`recover_journals`), keeping every complete batch.
  Metadata goes into the schema metadata (key ``daq``; the ending of an Arrow file in its
  last batch, key ``daq_end``) and into HDF5 attributes.

To finish files on a full disk, the daemon keeps a small reserve file in the data
directory (:class:`Reserve`) and lets it go when the disk is full.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.compute
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from daq.core.errors import StorageError, ValueRefused

TIME = "time_utc"
STATUS = "status"
Format = Literal["csv", "parquet", "hdf5", "arrow"]
FORMATS: tuple[Format, ...] = ("csv", "parquet", "hdf5", "arrow")
EXTENSIONS: dict[Format, str] = {"csv": "csv", "parquet": "parquet", "hdf5": "h5", "arrow": "arrow"}
ROW_GROUP_ROWS = 256_000
_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_columns(columns: Sequence[str]) -> None:
    """Refuse names a file cannot hold twice (a Parquet file with two equal column names
    cannot be read back): before anything is opened."""
    seen: set[str] = set()
    repeated = sorted({c for c in columns if c in seen or seen.add(c)})  # type: ignore[func-returns-value]
    if repeated:
        raise ValueRefused(f"readings: each name once, repeated: {', '.join(repeated)}")
    reserved = {TIME, STATUS} & set(columns)
    if reserved:
        raise ValueRefused(f"readings: {', '.join(sorted(reserved))} is reserved")


def storage_error(exc: OSError, path: Path) -> StorageError:
    if exc.errno in _FULL:
        return StorageError(f"disk full writing {path.name}: {exc.strerror}")
    return StorageError(f"cannot write {path.name}: {exc}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise storage_error(exc, path) from exc


class Reserve:
    """A few megabytes held on the data directory's filesystem so that, when it fills up,
    letting them go leaves room to finish the files (metadata, the Parquet/HDF5 copy)."""

    def __init__(self, directory: Path, size: int) -> None:
        self.path = directory / ".daq-reserve"
        self.size = size

    def ensure(self) -> bool:
        """Hold the reserve if there is room; True when held."""
        if self.size <= 0:
            return False
        with contextlib.suppress(OSError):
            if self.path.exists() and self.path.stat().st_size >= self.size:
                return True
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.size)
            finally:
                os.close(fd)
            return True
        with contextlib.suppress(OSError):
            self.path.unlink()
        return False

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


class Recorder(Protocol):
    path: Path
    rows: int
    """Rows safely on disk."""

    def write(self, timestamp: float, values: Sequence[float | None], status: str) -> None: ...
    def flush(self) -> None: ...
    def close(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Finish the file; returns what was recorded about the ending (the summary, plus
        any trouble finishing)."""
        ...


def _flush_for_ending(recorder: Recorder, summary: dict[str, Any]) -> dict[str, Any]:
    """Flush what is pending; the summary with the rows that reached the disk, and the error
    if the last flush failed (the rows before it are still good)."""
    ending = {**summary, "rows": recorder.rows}
    try:
        recorder.flush()
        ending["rows"] = recorder.rows
    except StorageError as exc:
        ending.setdefault("error", str(exc))
    return ending


class CsvRecorder:
    def __init__(self, path: Path, columns: Sequence[str], metadata: dict[str, Any]) -> None:
        check_columns(columns)
        self.path = path
        self.meta_path = path.with_name(path.name + ".meta.json")
        self.metadata = metadata
        self.rows = 0
        self._pending_rows = 0
        self._pending = io.StringIO()
        self._csv = csv.writer(self._pending, lineterminator="\r\n")
        self._size = 0
        self._failed = False
        _write_json_atomically(self.meta_path, metadata)
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except OSError as exc:
            raise storage_error(exc, path) from exc
        self._csv.writerow([TIME, *columns, STATUS])
        self.flush()
        self.rows = 0

    def write(self, timestamp: float, values: Sequence[float | None], status: str) -> None:
        self._csv.writerow(
            [iso_utc(timestamp), *("" if v is None else repr(v) for v in values), status]
        )
        self._pending_rows += 1

    def flush(self) -> None:
        if self._failed:
            return
        data = self._pending.getvalue().encode()
        self._pending.seek(0)
        self._pending.truncate()
        rows, self._pending_rows = self._pending_rows, 0
        try:
            _write_all(self._fd, data)
            os.fsync(self._fd)
        except OSError as exc:
            self._failed = True
            # cut the file back to its last complete row: no torn row, whatever was written
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
                os.fsync(self._fd)
            raise storage_error(exc, self.path) from exc
        self._size += len(data)
        self.rows += rows

    def close(self, summary: dict[str, Any]) -> dict[str, Any]:
        try:
            ending = _flush_for_ending(self, summary)
        finally:
            os.close(self._fd)
        _write_json_atomically(self.meta_path, {**self.metadata, **ending})
        return ending


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and complete rows; a last row cut short by a machine crash is dropped."""
    text = path.read_bytes().decode()
    if not text.endswith("\r\n"):
        text = text[: text.rfind("\r\n") + 2]
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def csv_metadata(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.with_name(path.name + ".meta.json").read_text())
    return result


class _Pending(io.RawIOBase):
    """Where pyarrow writes a journal's next bytes, so the recorder writes them itself and
    can cut a batch the disk could not take back off."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += bytes(b)
        return len(b)


class JournalRecorder:
    """Parquet, HDF5 or Arrow IPC, by way of an Arrow IPC stream journal (see the module)."""

    def __init__(
        self, path: Path, columns: Sequence[str], metadata: dict[str, Any], fmt: Format
    ) -> None:
        check_columns(columns)
        self.path = path
        self.format = fmt
        self.journal = path.with_name(path.name + ".arrows")
        self.columns = list(columns)
        self.rows = 0
        fields = [pa.field(TIME, pa.timestamp("us", tz="UTC"), nullable=False)]
        fields += [pa.field(name, pa.float64()) for name in self.columns]
        fields.append(pa.field(STATUS, pa.string()))
        self.schema = pa.schema(
            fields, metadata={"daq": json.dumps(metadata, sort_keys=True, default=str)}
        )
        self.metadata = metadata
        self._times: list[int] = []
        self._values: list[list[float | None]] = [[] for _ in self.columns]
        self._status: list[str] = []
        self._failed = False
        try:
            self._fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise storage_error(exc, self.journal) from exc
        self._sink = _Pending()
        self._writer = ipc.new_stream(pa.PythonFile(self._sink, mode="w"), self.schema)
        self._size = 0
        self._commit()

    def _commit(self) -> None:
        """Write what pyarrow produced, whole, or cut it back off and raise."""
        data = bytes(self._sink.data)
        self._sink.data.clear()
        try:
            _write_all(self._fd, data)
            os.fsync(self._fd)
        except OSError as exc:
            self._failed = True
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
                os.lseek(self._fd, self._size, os.SEEK_SET)
                os.fsync(self._fd)
            raise storage_error(exc, self.journal) from exc
        self._size += len(data)

    def write(self, timestamp: float, values: Sequence[float | None], status: str) -> None:
        self._times.append(int(timestamp * 1_000_000))
        for column, value in zip(self._values, values, strict=True):
            column.append(value)
        self._status.append(status)

    def write_columns(
        self, timestamps: Sequence[int], columns: Sequence[Sequence[float | None]]
    ) -> None:
        """Many rows at once (microsecond timestamps), for bulk writers and benchmarks."""
        self._times.extend(timestamps)
        for column, values in zip(self._values, columns, strict=True):
            column.extend(values)
        self._status.extend(["ok"] * len(timestamps))

    def flush(self) -> None:
        if not self._times or self._failed:
            return
        arrays = [pa.array(self._times, pa.timestamp("us", tz="UTC"))]
        arrays += [pa.array(column, pa.float64()) for column in self._values]
        arrays.append(pa.array(self._status, pa.string()))
        rows = len(self._times)
        self._times, self._values, self._status = [], [[] for _ in self.columns], []
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self._commit()
        self.rows += rows

    def close(self, summary: dict[str, Any]) -> dict[str, Any]:
        ending = _flush_for_ending(self, summary)
        if self.format == "arrow":
            # the ending rides on a last, empty batch: the file needs no copy
            empty = pa.RecordBatch.from_pylist([], schema=self.schema)
            end = {"daq_end": json.dumps(ending, sort_keys=True, default=str)}
            with contextlib.suppress(StorageError):
                self._writer.write_batch(empty, custom_metadata=end)
                self._commit()
        try:
            self._writer.close()  # the end-of-stream marker
            self._commit()
        except StorageError as exc:
            ending.setdefault("error", str(exc))
        finally:
            os.close(self._fd)
        finalize_journal(self.journal, self.path, ending, self.format)
        return ending


def journal_batches(journal: Path) -> Iterator[pa.RecordBatch]:
    """Every complete record batch of a journal; a batch cut short by a crash ends it."""
    with open(journal, "rb") as handle:
        try:
            reader = ipc.open_stream(handle)
        except (pa.ArrowInvalid, OSError):
            return
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


def _journal_schema(journal: Path, summary: dict[str, Any]) -> tuple[pa.Schema, dict[str, Any]]:
    with open(journal, "rb") as handle:
        schema = ipc.open_stream(handle).schema
    metadata = json.loads((schema.metadata or {}).get(b"daq", b"{}"))
    metadata.update(summary)
    return schema.with_metadata(
        {"daq": json.dumps(metadata, sort_keys=True, default=str)}
    ), metadata


def _grouped(journal: Path, schema: pa.Schema) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in journal_batches(journal):
        pending.append(batch)
        rows += batch.num_rows
        if rows >= ROW_GROUP_ROWS:
            yield pa.Table.from_batches(pending, schema=schema)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending, schema=schema)


def _to_parquet(journal: Path, tmp: Path, schema: pa.Schema, metadata: dict[str, Any]) -> int:
    rows = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for table in _grouped(journal, schema):
            writer.write_table(table)
            rows += table.num_rows
    return rows


def _hdf5_attr(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _to_hdf5(journal: Path, tmp: Path, schema: pa.Schema, metadata: dict[str, Any]) -> int:
    """Readings as datasets (``/time_utc`` in microseconds since the Unix epoch, UTC;
    ``/readings/<name>`` float64 with NaN where a reading failed; ``/status``), the whole
    metadata as the root attribute ``daq`` and each instrument's settings as attributes of
    ``/instruments/<name>``."""
    names = [f.name for f in schema if f.name not in (TIME, STATUS)]
    # status as fixed-length UTF-8 (compresses, unlike variable-length strings): its width
    # is found in a first pass over the journal
    width = 1
    for batch in journal_batches(journal):
        lengths = pa.compute.utf8_length(batch.column(STATUS))
        width = max(width, pa.compute.max(lengths).as_py() or 1)
    rows = 0
    with h5py.File(tmp, "w") as h5:
        h5.attrs["daq"] = json.dumps(metadata, sort_keys=True, default=str)
        for key in ("operator", "sample", "notes", "producer", "started_utc", "state", "rows"):
            if key in metadata and metadata[key] is not None:
                h5.attrs[key] = _hdf5_attr(metadata[key])
        group = h5.create_group("instruments")
        for name, settings in (metadata.get("instruments") or {}).items():
            sub = group.create_group(name)
            for key, value in settings.items():
                if value is not None:
                    sub.attrs[key] = _hdf5_attr(value)
        chunk = (16384,)
        packed = {"chunks": chunk, "compression": "lzf"}  # fast, and shrinks the copy
        time_ds = h5.create_dataset(TIME, (0,), maxshape=(None,), dtype="int64", **packed)
        time_ds.attrs["units"] = "microseconds since 1970-01-01T00:00:00Z"
        readings = h5.create_group("readings")
        datasets = {
            n: readings.create_dataset(n, (0,), maxshape=(None,), dtype="float64", **packed)
            for n in names
        }
        status_ds = h5.create_dataset(
            STATUS, (0,), maxshape=(None,), dtype=f"S{width * 4}", **packed
        )
        status_ds.attrs["encoding"] = "utf-8"
        for table in _grouped(journal, schema):
            n = table.num_rows
            for ds in (time_ds, status_ds, *datasets.values()):
                ds.resize((rows + n,))
            time_ds[rows:] = table.column(TIME).cast(pa.int64()).to_numpy()
            for name, ds in datasets.items():
                ds[rows:] = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
            status_ds[rows:] = np.array(
                [v.encode() for v in table.column(STATUS).to_pylist()], dtype=f"S{width * 4}"
            )
            rows += n
    return rows


FINALIZERS: dict[str, Callable[[Path, Path, pa.Schema, dict[str, Any]], int]] = {
    "parquet": _to_parquet,
    "hdf5": _to_hdf5,
}


def finalize_journal(
    journal: Path, path: Path, summary: dict[str, Any], fmt: Format = "parquet"
) -> None:
    """Journal → file, streaming: memory stays bounded by one row group however long the
    recording ran. If the disk cannot take the file, the journal stays (it is readable as
    an Arrow IPC stream) and the error goes up."""
    if fmt == "arrow":
        journal.replace(path)  # the IPC stream journal is the file
        return
    schema, metadata = _journal_schema(journal, summary)
    tmp = path.with_name(path.name + ".tmp")
    try:
        FINALIZERS[fmt](journal, tmp, schema, metadata)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
    except (OSError, RuntimeError) as exc:  # h5py reports a failed write as RuntimeError
        with contextlib.suppress(OSError):
            tmp.unlink()
        error = exc if isinstance(exc, OSError) else OSError(errno.EIO, str(exc))
        if "No space left" in str(exc):
            error = OSError(errno.ENOSPC, "No space left on device")
        raise StorageError(
            f"{storage_error(error, path)}; every row is kept in {journal.name} "
            "(an Arrow IPC stream) and becomes the file at the next start"
        ) from exc
    journal.unlink()


def recover_journals(directory: Path) -> list[Path]:
    """Turn journals a crash left behind into their files; returns the files made."""
    made = []
    by_extension = {ext: fmt for fmt, ext in EXTENSIONS.items()}
    for journal in sorted(directory.glob("*.arrows")):
        target = journal.with_name(journal.name.removesuffix(".arrows"))
        fmt = by_extension.get(target.suffix.lstrip("."))
        if fmt is None or fmt == "csv":
            continue
        with contextlib.suppress(pa.ArrowInvalid, OSError, StorageError):
            finalize_journal(journal, target, {"recovered_after_crash": True}, fmt)
            made.append(target)
    return made


def parquet_metadata(path: Path) -> dict[str, Any]:
    schema = pq.read_schema(path)
    result: dict[str, Any] = json.loads((schema.metadata or {}).get(b"daq", b"{}"))
    return result


def arrow_metadata(path: Path) -> dict[str, Any]:
    """Start metadata from the schema, the ending from the last batch's custom metadata."""
    result: dict[str, Any] = {}
    with open(path, "rb") as handle:
        reader = ipc.open_stream(handle)
        result.update(json.loads((reader.schema.metadata or {}).get(b"daq", b"{}")))
        while True:
            try:
                _, custom = reader.read_next_batch_with_custom_metadata()
            except (StopIteration, pa.ArrowInvalid, OSError):
                break
            if custom is not None and b"daq_end" in custom:
                result.update(json.loads(custom[b"daq_end"]))
    return result


def read_arrow(path: Path) -> pa.Table:
    """The rows of an Arrow IPC stream file (every complete batch)."""
    return read_journal(path)


def hdf5_metadata(path: Path) -> dict[str, Any]:
    with h5py.File(path, "r") as h5:
        result: dict[str, Any] = json.loads(h5.attrs["daq"])
    return result


def file_metadata(path: Path) -> dict[str, Any]:
    """The metadata of a finished file in any format."""
    readers = {
        ".csv": csv_metadata,
        ".parquet": parquet_metadata,
        ".arrow": arrow_metadata,
        ".h5": hdf5_metadata,
    }
    return readers[path.suffix](path)


def open_recorder(
    path_stem: Path, fmt: Format, columns: Sequence[str], metadata: dict[str, Any]
) -> Recorder:
    path = path_stem.with_name(f"{path_stem.name}.{EXTENSIONS[fmt]}")
    if fmt == "csv":
        return CsvRecorder(path, columns, metadata)
    return JournalRecorder(path, columns, metadata, fmt)
