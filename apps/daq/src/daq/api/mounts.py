"""ELL14 rotation mounts, each by its own name whatever bus it is on."""

from __future__ import annotations

from fastapi import APIRouter

from daq.api.deps import LabDep
from daq.api.models import MountHome, MountJog, MountMove, MountState

router = APIRouter(prefix="/mounts", tags=["mounts"])


def _state(lab: LabDep, name: str, angle: float | None = None) -> MountState:
    bus, mount = lab.mount(name)

    def state() -> MountState:
        return MountState(
            name=name,
            address=mount.address,
            angle_deg=mount.angle if angle is None else angle,
            status=mount.status(),
            serial=mount.info.serial if mount.info else None,
            pulses_per_revolution=mount.info.pulses_per_unit if mount.info else None,
        )

    return bus.run("state", state)


@router.get("/{name}", operation_id="get_mount")
def get_mount(name: str, lab: LabDep) -> MountState:
    return _state(lab, name)


@router.post("/{name}/move", operation_id="move_mount")
def move_mount(name: str, body: MountMove, lab: LabDep) -> MountState:
    bus, mount = lab.mount(name)
    move = mount.move_by if body.relative else mount.move_to
    angle = bus.run("move", lambda: move(body.angle_deg))
    return _state(lab, name, angle)


@router.post("/{name}/home", operation_id="home_mount")
def home_mount(name: str, body: MountHome, lab: LabDep) -> MountState:
    bus, mount = lab.mount(name)
    angle = bus.run("home", lambda: mount.home(body.clockwise))
    return _state(lab, name, angle)


@router.post("/{name}/jog", operation_id="jog_mount")
def jog_mount(name: str, body: MountJog, lab: LabDep) -> MountState:
    bus, mount = lab.mount(name)
    if body.step_deg is not None:
        mount.check_degrees(body.step_deg, 0, mount.info.travel if mount.info else 360, "jog step")

    def jog() -> float:
        if body.step_deg is not None:
            mount.jog_step = body.step_deg
        return mount.jog(body.forward)

    angle = bus.run("jog", jog)
    return _state(lab, name, angle)
