"""ELL14 rotation mounts, each by its own name whatever bus it is on."""

from __future__ import annotations

from fastapi import APIRouter

from daq.api.deps import LabDep
from daq.api.models import Done, MountHome, MountJog, MountMove, MountState, MountVelocity

router = APIRouter(prefix="/mounts", tags=["mounts"])


def _model(state: object) -> MountState:
    return MountState.model_validate(state, from_attributes=True)


@router.get("/{name}", operation_id="get_mount")
def get_mount(name: str, lab: LabDep) -> MountState:
    return _model(lab.mount_bus(name).state(name))


@router.post("/{name}/move", operation_id="move_mount")
def move_mount(name: str, body: MountMove, lab: LabDep) -> MountState:
    bus = lab.mount_bus(name)
    return _model(
        bus.move(name, body.angle_deg, relative=body.relative, request_id=body.request_id)
    )


@router.post("/{name}/home", operation_id="home_mount")
def home_mount(name: str, body: MountHome, lab: LabDep) -> MountState:
    return _model(lab.mount_bus(name).home(name, body.clockwise))


@router.post("/{name}/jog", operation_id="jog_mount")
def jog_mount(name: str, body: MountJog, lab: LabDep) -> MountState:
    return _model(lab.mount_bus(name).jog(name, body.forward, body.step_deg))


@router.post("/{name}/stop", operation_id="stop_mount")
def stop_mount(name: str, lab: LabDep) -> Done:
    lab.mount_bus(name).stop_mount(name)
    return Done()


@router.put("/{name}/velocity", operation_id="set_mount_velocity")
def set_velocity(name: str, body: MountVelocity, lab: LabDep) -> Done:
    lab.mount_bus(name).set_velocity(name, body.percent)
    return Done()
