"""Tracking: start, stop, search and list objects."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from dome.api.deps import Command, Read, State
from dome.api.models import Accepted, CatalogueEntry, TrackingStatus, TrackRequest
from dome.core.catalogue import CatalogueObject
from dome.core.errors import InvalidValueError, UnknownTargetError

router = APIRouter(prefix="/api/tracking", tags=["tracking"])


@router.post(
    "/start", response_model=TrackingStatus, operation_id="start_tracking", dependencies=[Command]
)
async def start_tracking(body: TrackRequest, state: State) -> Any:
    """Track a named object, or RA/Dec (J2000 degrees); refused below the altitude limit."""
    name: str | None
    if body.name is not None and body.ra_deg is None and body.dec_deg is None:
        obj = await resolve(state, body.name)
        ra, dec, name = obj.ra_deg, obj.dec_deg, obj.name
    elif body.ra_deg is not None and body.dec_deg is not None:
        ra, dec, name = body.ra_deg, body.dec_deg, body.name
    else:
        raise InvalidValueError("give either a name, or both ra_deg and dec_deg")
    target = await state.ipc.call("track", ra_deg=ra, dec_deg=dec, name=name)
    status = await state.ipc.call("status")
    return {
        "state": status["state"],
        "target": target,
        "tracking_error_deg": status["tracking_error_deg"],
    }


async def resolve(state: State, name: str) -> CatalogueObject:
    """The catalogue, the cache, then SIMBAD, in a worker thread with a time limit: a slow
    or hung SIMBAD never stalls the API's event loop."""
    limit = state.settings.simbad_timeout_s
    try:
        return await asyncio.wait_for(asyncio.to_thread(state.catalogue.resolve, name), limit)
    except TimeoutError:
        raise UnknownTargetError(
            f"unknown target {name!r}: SIMBAD did not answer within {limit:g} s"
        ) from None


@router.post("/slave", response_model=TrackingStatus, operation_id="slave", dependencies=[Command])
async def slave(state: State) -> Any:
    """Follow the telescope (DOME_MOUNT_ADDRESS) instead of a named target; stop with
    ``/api/tracking/stop``."""
    target = await state.ipc.call("slave")
    status = await state.ipc.call("status")
    return {
        "state": status["state"],
        "target": target,
        "tracking_error_deg": status["tracking_error_deg"],
    }


@router.post("/stop", response_model=Accepted, operation_id="stop_tracking", dependencies=[Command])
async def stop_tracking(state: State) -> Accepted:
    await state.ipc.call("track_stop")
    return Accepted(command="track_stop")


@router.get("", response_model=TrackingStatus, operation_id="get_tracking", dependencies=[Read])
async def get_tracking(state: State) -> Any:
    status = await state.ipc.call("status")
    return {
        "state": status["state"],
        "target": status["tracking"],
        "tracking_error_deg": status["tracking_error_deg"],
    }


@router.get(
    "/search",
    response_model=list[CatalogueEntry],
    operation_id="search_objects",
    dependencies=[Read],
)
async def search(
    state: State,
    q: Annotated[str, Query(min_length=1, max_length=100, description="part of a name")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    return [o.as_dict() for o in state.catalogue.search(q, limit)]


@router.get(
    "/objects",
    response_model=list[CatalogueEntry],
    operation_id="list_objects",
    dependencies=[Read],
)
async def objects(state: State) -> Any:
    return [o.as_dict() for o in state.catalogue.objects()]
