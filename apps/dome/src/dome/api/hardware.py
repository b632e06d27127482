"""Moving the dome: goto, jog, continuous, stop, abort, sync, home, park."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dome.api.deps import Command, Read, State
from dome.api.models import (
    Accepted,
    ContinuousAccepted,
    ContinuousRequest,
    DomeStatus,
    GotoRequest,
    JogRequest,
    PositionRequest,
    SimFaults,
    SyncRequest,
)
from dome.core.errors import InvalidStateError

router = APIRouter(prefix="/api/dome", tags=["hardware"])


async def _command(state: State, op: str, **args: Any) -> Accepted:
    await state.ipc.call(op, **args)
    return Accepted(command=op)


@router.get("/status", response_model=DomeStatus, operation_id="get_status", dependencies=[Read])
async def get_status(state: State) -> Any:
    return await state.ipc.call("status")


@router.post("/goto", response_model=Accepted, operation_id="goto", dependencies=[Command])
async def goto(body: GotoRequest, state: State) -> Accepted:
    """Slew to an azimuth by the shortest way; settles within one encoder count."""
    return await _command(state, "goto", azimuth=body.azimuth)


@router.post("/jog", response_model=Accepted, operation_id="jog", dependencies=[Command])
async def jog(body: JogRequest, state: State) -> Accepted:
    """Turn by a number of degrees, in the direction of its sign."""
    return await _command(state, "jog", degrees=body.degrees)


@router.post(
    "/continuous",
    response_model=ContinuousAccepted,
    operation_id="continuous",
    dependencies=[Command],
)
async def continuous(body: ContinuousRequest, state: State) -> ContinuousAccepted:
    """Turn at full speed while renewed: post again (same direction) within
    ``renew_within_s`` or the dome decelerates to a stop (deadman)."""
    result = await state.ipc.call("continuous", direction=body.direction)
    return ContinuousAccepted(command="continuous", renew_within_s=result["deadman_s"])


@router.post("/stop", response_model=Accepted, operation_id="stop", dependencies=[Command])
async def stop(state: State) -> Accepted:
    """Decelerate to a stop (and end tracking)."""
    return await _command(state, "stop")


@router.post("/abort", response_model=Accepted, operation_id="abort", dependencies=[Command])
async def abort(state: State) -> Accepted:
    """Stop now: queued step pulses are dropped."""
    return await _command(state, "abort")


@router.post("/sync", response_model=Accepted, operation_id="sync", dependencies=[Command])
async def sync(body: SyncRequest, state: State) -> Accepted:
    """Declare the azimuth the dome points at now."""
    return await _command(state, "sync", azimuth=body.azimuth)


@router.post("/home", response_model=Accepted, operation_id="find_home", dependencies=[Command])
async def find_home(state: State) -> Accepted:
    return await _command(state, "find_home")


@router.post("/park", response_model=Accepted, operation_id="park", dependencies=[Command])
async def park(state: State) -> Accepted:
    return await _command(state, "park")


@router.post("/unpark", response_model=Accepted, operation_id="unpark", dependencies=[Command])
async def unpark(state: State) -> Accepted:
    return await _command(state, "unpark")


@router.put(
    "/home-position", response_model=Accepted, operation_id="set_home", dependencies=[Command]
)
async def set_home(body: PositionRequest, state: State) -> Accepted:
    return await _command(state, "set_home", azimuth=body.azimuth)


@router.put(
    "/park-position", response_model=Accepted, operation_id="set_park", dependencies=[Command]
)
async def set_park(body: PositionRequest, state: State) -> Accepted:
    return await _command(state, "set_park", azimuth=body.azimuth)


@router.post(
    "/clear-fault", response_model=Accepted, operation_id="clear_fault", dependencies=[Command]
)
async def clear_fault(state: State) -> Accepted:
    return await _command(state, "clear_fault")


@router.post(
    "/shutter/open", response_model=Accepted, operation_id="open_shutter", dependencies=[Command]
)
async def open_shutter(state: State) -> Accepted:
    """Open the shutter; refused while the weather/safety source says unsafe."""
    return await _command(state, "shutter_open")


@router.post(
    "/shutter/close", response_model=Accepted, operation_id="close_shutter", dependencies=[Command]
)
async def close_shutter(state: State) -> Accepted:
    return await _command(state, "shutter_close")


@router.post(
    "/shutter/stop", response_model=Accepted, operation_id="stop_shutter", dependencies=[Command]
)
async def stop_shutter(state: State) -> Accepted:
    return await _command(state, "shutter_stop")


@router.post("/sim/faults", operation_id="set_sim_faults", dependencies=[Command])
async def set_sim_faults(body: SimFaults, state: State) -> dict[str, Any]:
    """Switch simulator faults on or off (only with ``--sim``)."""
    if not state.simulated:
        raise InvalidStateError("not running in simulation")
    changes = body.model_dump(exclude_none=True)
    result: dict[str, Any] = await state.ipc.call("sim_faults", **changes)
    return result
