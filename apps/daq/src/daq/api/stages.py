"""ESP300 motion: moves, home, stop, abort, speed."""

from __future__ import annotations

from fastapi import APIRouter

from daq.api.deps import LabDep
from daq.api.models import AxisHome, AxisMotion, AxisMove, AxisState, Done
from daq.core.instruments import StageController
from daq.hardware.esp300 import ESP300Axis

router = APIRouter(prefix="/stages", tags=["stages"])


def _axis(lab: LabDep, name: str, axis: int) -> tuple[StageController, ESP300Axis]:
    stage = lab.get(name, StageController)
    return stage, stage.driver.axis(axis)


@router.get("/{name}/axes/{axis}", operation_id="get_axis")
def get_axis(name: str, axis: int, lab: LabDep) -> AxisState:
    stage, ax = _axis(lab, name, axis)
    return stage.run(
        "state", lambda: AxisState(axis=axis, position=ax.position, motion_done=ax.motion_done)
    )


@router.post("/{name}/axes/{axis}/move", operation_id="move_axis")
def move_axis(name: str, axis: int, body: AxisMove, lab: LabDep) -> AxisState:
    stage, ax = _axis(lab, name, axis)

    def go() -> AxisState:
        if body.relative:
            ax.move_by(body.position)
        else:
            ax.move_to(body.position)
        if body.wait:
            ax.wait_until_stopped(timeout=60)
        return AxisState(axis=axis, position=ax.position, motion_done=ax.motion_done)

    return stage.run("move", go)


@router.post("/{name}/axes/{axis}/home", operation_id="home_axis")
def home_axis(name: str, axis: int, body: AxisHome, lab: LabDep) -> Done:
    stage, ax = _axis(lab, name, axis)
    stage.run("home", lambda: ax.home(body.mode))
    return Done()


@router.post("/{name}/axes/{axis}/stop", operation_id="stop_axis")
def stop_axis(name: str, axis: int, lab: LabDep) -> Done:
    stage, ax = _axis(lab, name, axis)
    stage.run("stop", ax.stop)
    return Done()


@router.put("/{name}/axes/{axis}/motion", operation_id="set_axis_motion")
def set_axis_motion(name: str, axis: int, body: AxisMotion, lab: LabDep) -> Done:
    stage, ax = _axis(lab, name, axis)
    # validate both before sending either, so a bad acceleration leaves the velocity alone
    checks = {"velocity": body.velocity, "acceleration": body.acceleration}
    for field, value in checks.items():
        if value is not None:
            descriptor = getattr(type(ax), field)
            descriptor.validator(value, ax)

    def apply() -> None:
        for field, value in checks.items():
            if value is not None:
                setattr(ax, field, value)

    stage.run("motion", apply)
    return Done()


@router.post("/{name}/abort", operation_id="abort_stages")
def abort(name: str, lab: LabDep) -> Done:
    stage = lab.get(name, StageController)
    stage.run("abort", stage.driver.abort)
    return Done()
