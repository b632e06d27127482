"""The simulator's control endpoint, on its own port so the device port stays the board's.

- ``GET /state``: the current fault, ``requests_total`` and whether the device listens.
- ``PUT /fault`` with ``{"fault": "slow", "delay_seconds": 5}``: switch fault (``none``,
  ``slow``, ``hang``, ``garbage``, ``error``, ``reset``, ``down``); ``delay_seconds`` is
  optional and only used by ``slow``. A bad body gets 422 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from picotemp.sim.faults import Fault
from picotemp.sim.server import PicoSimulator


class FaultChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fault: Fault
    delay_seconds: float | None = Field(default=None, ge=0, le=3600)


def state_of(sim: PicoSimulator) -> dict[str, Any]:
    return {
        "fault": sim.state.fault.value,
        "delay_seconds": sim.state.delay_seconds,
        "listening": sim.listening,
        "url": sim.url,
        "requests_total": sim.requests_total,
        "active_connections": sim.active_connections,
    }


def control_app(sim: PicoSimulator) -> Starlette:
    async def get_state(request: Request) -> JSONResponse:
        return JSONResponse(state_of(sim))

    async def put_fault(request: Request) -> JSONResponse:
        try:
            change = FaultChange.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]), "error": e["msg"]}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        await sim.set_fault(change.fault, change.delay_seconds)
        return JSONResponse(state_of(sim))

    return Starlette(
        routes=[
            Route("/state", get_state, methods=["GET"]),
            Route("/fault", put_fault, methods=["PUT"]),
        ]
    )
