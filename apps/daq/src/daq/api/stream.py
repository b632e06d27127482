"""Live readings over a WebSocket: every acquisition row, as JSON, as it is taken.

Browsers cannot set headers on a WebSocket: they open it with a short-lived ``?ticket=``
from ``POST /api/stream-ticket`` (labkit.auth); other clients send the token header.
A slow client loses messages (its queue is bounded) rather than slowing acquisitions.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect

from daq.api.deps import auth
from daq.core.lab import Lab

router = APIRouter()


@router.websocket("/stream", dependencies=[Depends(auth.require_stream)])
async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    lab: Lab = websocket.app.state.lab
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)

    def deliver(message: dict[str, Any]) -> None:
        def put() -> None:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(message)

        with contextlib.suppress(RuntimeError):  # the loop closed: the server is stopping
            loop.call_soon_threadsafe(put)

    async def forward() -> None:
        while True:
            await websocket.send_json(await queue.get())

    async def until_closed() -> None:
        # the client sends nothing; receiving is how a close (or a server stop) is noticed
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    unsubscribe = lab.stream.subscribe(deliver)
    tasks = [asyncio.create_task(forward()), asyncio.create_task(until_closed())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        unsubscribe()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
