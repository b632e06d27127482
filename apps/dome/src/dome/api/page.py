"""The operator's page and the live status stream it listens to (Server-Sent Events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from dome.api.deps import ReadStream, State

router = APIRouter(tags=["page"])
PUSH_INTERVAL_S = 0.2


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> HTMLResponse:
    return HTMLResponse(resources.files("dome.static").joinpath("index.html").read_text())


@router.get("/api/events", operation_id="status_stream", dependencies=[ReadStream])
async def events(request: Request, state: State) -> StreamingResponse:
    """Server-Sent Events: the dome's status, pushed every 200 ms while it changes."""

    async def stream() -> AsyncIterator[str]:
        last = None
        idle = 0
        while not await request.is_disconnected():
            status = state.latest_status
            text = json.dumps(status)
            if text != last or idle >= 10:
                yield f"data: {text}\n\n"
                last, idle = text, 0
            else:
                idle += 1
            await asyncio.sleep(PUSH_INTERVAL_S)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
