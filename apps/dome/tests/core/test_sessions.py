from pathlib import Path

from dome.core.sessions import SessionRecorder, list_events, list_sessions, open_db


class Wall:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_motions_become_sessions_with_their_outcome(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    wall = Wall()
    rec = SessionRecorder(db, retention_days=30, wall_clock=wall)
    rec.start()
    rec.record("motion_started", {"intent": "goto", "azimuth": 10.0})
    wall.now += 5
    rec.record("motion_ended", {"intent": "goto", "outcome": "arrived", "azimuth": 90.0})
    rec.record("motion_started", {"intent": "continuous", "azimuth": 90.0})
    wall.now += 1
    rec.record("fault", {"reason": "stall: x", "azimuth": 91.0})
    rec.close()
    conn = open_db(db, readonly=True)
    rows = list_sessions(conn, 10)
    assert [(r["kind"], r["outcome"]) for r in rows] == [
        ("continuous", "fault: stall: x"),
        ("goto", "arrived"),
    ]
    assert rows[1]["ended"] - rows[1]["started"] == 5
    assert next(e["kind"] for e in list_events(conn, 10)) == "fault"


def test_rows_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    wall = Wall()
    rec = SessionRecorder(db, retention_days=1, wall_clock=wall)
    rec.start()
    rec.record("motion_started", {"intent": "goto", "azimuth": 1.0})
    rec.record("motion_ended", {"intent": "goto", "outcome": "arrived", "azimuth": 2.0})
    rec.close()
    wall.now += 2 * 86400
    rec2 = SessionRecorder(db, retention_days=1, wall_clock=wall)  # purges on start
    rec2.close()
    conn = open_db(db, readonly=True)
    assert list_sessions(conn, 10) == []
    assert list_events(conn, 10) == []
