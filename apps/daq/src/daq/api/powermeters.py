"""Newport 1830-C power meters."""

from __future__ import annotations

from fastapi import APIRouter

from daq.api.deps import LabDep
from daq.api.models import Done, PowerMeterSettings, PowerMeterState, Zero
from daq.core.instruments import PowerMeter

router = APIRouter(prefix="/powermeters", tags=["power meters"])


@router.get("/{name}", operation_id="get_powermeter")
def get_powermeter(name: str, lab: LabDep) -> PowerMeterState:
    return PowerMeterState.model_validate(lab.get(name, PowerMeter).state())


@router.put("/{name}/settings", operation_id="set_powermeter")
def set_powermeter(name: str, body: PowerMeterSettings, lab: LabDep) -> Done:
    lab.get(name, PowerMeter).configure(
        {
            "wavelength": body.wavelength_nm,
            "range": body.range,
            "filter": body.filter,
            "attenuator": body.attenuator,
            "units": body.units,
        }
    )
    return Done()


@router.post("/{name}/zero", operation_id="zero_powermeter")
def zero(name: str, body: Zero, lab: LabDep) -> Done:
    lab.get(name, PowerMeter).set_zero(body.on)
    return Done()


@router.post("/{name}/reference", operation_id="store_powermeter_reference")
def store_reference(name: str, lab: LabDep) -> Done:
    """The current reading becomes the reference of the dB and REL units."""
    lab.get(name, PowerMeter).store_reference()
    return Done()
