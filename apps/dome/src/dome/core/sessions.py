"""The history of what the dome did, in SQLite.

A *session* is one motion from start to end (goto, jog, park, home, track, continuous)
with where it started and ended and how it ended (arrived, stopped, aborted, fault);
*events* are everything else worth keeping (sync, faults, tracking started). The control
loop hands events over through a queue; a writer thread owns the database, so a slow disk
never delays a control tick. Rows older than the retention are deleted.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    start_azimuth REAL,
    end_azimuth REAL,
    outcome TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS sessions_started ON sessions(started);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_at ON events(at);
"""


def open_db(path: Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
    conn.row_factory = sqlite3.Row
    return conn


class SessionRecorder:
    def __init__(
        self, path: Path, retention_days: int, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self._conn = open_db(path)
        self._retention_s = retention_days * 86400
        self._wall = wall_clock
        self._queue: queue.Queue[tuple[float, str, dict[str, Any]] | None] = queue.Queue()
        self._open: int | None = None
        self._thread = threading.Thread(target=self._run, name="sessions", daemon=True)
        self._last_purge = 0.0
        self.purge()

    def start(self) -> None:
        self._thread.start()

    def record(self, kind: str, data: dict[str, Any]) -> None:
        """Called from the control loop: never blocks."""
        self._queue.put((self._wall(), kind, data))

    def close(self) -> None:
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        else:
            self._drain()
        self._conn.close()

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._write(*item)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._drain()
                return
            self._write(*item)
            if self._wall() - self._last_purge > 3600:
                self.purge()

    def _write(self, at: float, kind: str, data: dict[str, Any]) -> None:
        with self._conn:
            if kind == "motion_started":
                self._close_open(at, data.get("azimuth"), "superseded")
                cur = self._conn.execute(
                    "INSERT INTO sessions (kind, started, start_azimuth, detail)"
                    " VALUES (?, ?, ?, ?)",
                    (str(data.get("intent")), at, data.get("azimuth"), json.dumps(data)),
                )
                self._open = cur.lastrowid
            elif kind in ("motion_ended", "fault"):
                outcome = (
                    "fault: " + str(data["reason"]) if kind == "fault" else str(data.get("outcome"))
                )
                self._close_open(at, data.get("azimuth"), outcome)
            self._conn.execute(
                "INSERT INTO events (at, kind, data) VALUES (?, ?, ?)", (at, kind, json.dumps(data))
            )

    def _close_open(self, at: float, azimuth: Any, outcome: str) -> None:
        if self._open is None:
            return
        self._conn.execute(
            "UPDATE sessions SET ended = ?, end_azimuth = ?, outcome = ? WHERE id = ?",
            (at, azimuth, outcome, self._open),
        )
        self._open = None

    def purge(self) -> int:
        cutoff = self._wall() - self._retention_s
        self._last_purge = self._wall()
        with self._conn:
            n = self._conn.execute("DELETE FROM sessions WHERE started < ?", (cutoff,)).rowcount
            self._conn.execute("DELETE FROM events WHERE at < ?", (cutoff,))
        return int(n)


def list_sessions(
    conn: sqlite3.Connection, limit: int, since: float | None = None
) -> list[dict[str, Any]]:
    sql = "SELECT * FROM sessions"
    params: list[Any] = []
    if since is not None:
        sql += " WHERE started >= ?"
        params.append(since)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [dict(row) for row in conn.execute(sql, params)]


def list_events(conn: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))
    return [{**dict(row), "data": json.loads(row["data"])} for row in rows]
