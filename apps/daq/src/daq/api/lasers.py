"""MaiTai lasers. Opening the shutter and switching emission on need ``confirm: true`` and
the interlock setting; closing and switching off never do."""

from __future__ import annotations

from fastapi import APIRouter

from daq.api.deps import LabDep
from daq.api.models import Done, LaserEmission, LaserShutter, LaserState, LaserWavelength
from daq.core.instruments import Laser

router = APIRouter(prefix="/lasers", tags=["lasers"])


@router.get("/{name}", operation_id="get_laser")
def get_laser(name: str, lab: LabDep) -> LaserState:
    return LaserState.model_validate(lab.get(name, Laser).state())


@router.put("/{name}/wavelength", operation_id="set_laser_wavelength")
def set_wavelength(name: str, body: LaserWavelength, lab: LabDep) -> Done:
    lab.get(name, Laser).set_wavelength(body.nm)
    return Done()


@router.put("/{name}/shutter", operation_id="set_laser_shutter")
def set_shutter(name: str, body: LaserShutter, lab: LabDep) -> Done:
    lab.get(name, Laser).set_shutter(body.open, body.confirm)
    return Done()


@router.put("/{name}/emission", operation_id="set_laser_emission")
def set_emission(name: str, body: LaserEmission, lab: LabDep) -> Done:
    """On: from cold the warm-up starts first and emission follows when warm (the answer
    says ``warming``); the shutter must be closed. Off: always allowed."""
    laser = lab.get(name, Laser)
    if body.on:
        return Done(detail=laser.request_emission(body.confirm))
    laser.emission_off()
    return Done(detail="off")
