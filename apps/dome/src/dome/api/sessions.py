"""The history of what the dome did (SQLite, written by the control process)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dome.api.deps import Read, State
from dome.api.models import Event, Session
from dome.core.sessions import list_events, list_sessions, open_db

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


@router.get("", response_model=list[Session], operation_id="list_sessions", dependencies=[Read])
def sessions(
    state: State,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    since: Annotated[float | None, Query(ge=0, le=1e10, description="unix time")] = None,
) -> Any:
    path = state.settings.sessions_db
    if not path.exists():
        return []
    conn = open_db(path, readonly=True)
    try:
        return list_sessions(conn, limit, since)
    finally:
        conn.close()


@router.get("/events", response_model=list[Event], operation_id="list_events", dependencies=[Read])
def events(state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
    path = state.settings.sessions_db
    if not path.exists():
        return []
    conn = open_db(path, readonly=True)
    try:
        return list_events(conn, limit)
    finally:
        conn.close()
