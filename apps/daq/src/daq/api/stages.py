"""ESP300 motion: moves, home, stop, abort, speed. Every route calls ``core`` only."""

from __future__ import annotations

from fastapi import APIRouter

from daq.api.deps import LabDep
from daq.api.models import AxisHome, AxisMotion, AxisMove, AxisState, Done
from daq.core.instruments import StageController

router = APIRouter(prefix="/stages", tags=["stages"])


def _model(state: object) -> AxisState:
    return AxisState.model_validate(state, from_attributes=True)


@router.get("/{name}/axes/{axis}", operation_id="get_axis")
def get_axis(name: str, axis: int, lab: LabDep) -> AxisState:
    return _model(lab.get(name, StageController).state(axis))


@router.post("/{name}/axes/{axis}/move", operation_id="move_axis")
def move_axis(name: str, axis: int, body: AxisMove, lab: LabDep) -> AxisState:
    stage = lab.get(name, StageController)
    state = stage.move(
        axis, body.position, relative=body.relative, wait=body.wait, request_id=body.request_id
    )
    return _model(state)


@router.post("/{name}/axes/{axis}/home", operation_id="home_axis")
def home_axis(name: str, axis: int, body: AxisHome, lab: LabDep) -> Done:
    lab.get(name, StageController).home(axis, body.mode)
    return Done()


@router.post("/{name}/axes/{axis}/stop", operation_id="stop_axis")
def stop_axis(name: str, axis: int, lab: LabDep) -> Done:
    lab.get(name, StageController).stop_axis(axis)
    return Done()


@router.put("/{name}/axes/{axis}/motion", operation_id="set_axis_motion")
def set_axis_motion(name: str, axis: int, body: AxisMotion, lab: LabDep) -> Done:
    lab.get(name, StageController).set_motion(axis, body.velocity, body.acceleration)
    return Done()


@router.post("/{name}/abort", operation_id="abort_stages")
def abort(name: str, lab: LabDep) -> Done:
    lab.get(name, StageController).abort()
    return Done()
