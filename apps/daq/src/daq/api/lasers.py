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
    laser = lab.get(name, Laser)
    d = laser.driver

    def state() -> LaserState:
        status = d.status
        return LaserState(
            warmup_percent=d.warmup_percent,
            emission_possible=status.emission_possible,
            modelocked=status.modelocked,
            shutter_open=d.shutter_open,
            wavelength_nm=d.actual_wavelength,
            commanded_wavelength_nm=d.wavelength,
            power_w=d.power,
            interlock_closed=laser.interlock_closed,
        )

    return laser.run("state", state)


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
    lab.get(name, Laser).set_emission(body.on, body.confirm)
    return Done()
