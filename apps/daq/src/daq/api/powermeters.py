"""Newport 1830-C power meters."""

from __future__ import annotations

from fastapi import APIRouter

from daq.api.deps import LabDep
from daq.api.models import Done, PowerMeterSettings, PowerMeterState, Zero
from daq.core.instruments import PowerMeter
from daq.hardware.errors import ValueRefused

router = APIRouter(prefix="/powermeters", tags=["power meters"])


@router.get("/{name}", operation_id="get_powermeter")
def get_powermeter(name: str, lab: LabDep) -> PowerMeterState:
    pm = lab.get(name, PowerMeter)
    d = pm.driver
    return pm.run(
        "state",
        lambda: PowerMeterState(
            power=d.power,
            units=pm.units,
            wavelength_nm=d.wavelength,
            range=d.range,
            filter=d.filter,
            attenuator=d.attenuator,
            status=d.status(),
        ),
    )


@router.put("/{name}/settings", operation_id="set_powermeter")
def set_powermeter(name: str, body: PowerMeterSettings, lab: LabDep) -> Done:
    pm = lab.get(name, PowerMeter)
    d = pm.driver
    changes = {
        "wavelength": body.wavelength_nm,
        "range": body.range,
        "filter": body.filter,
        "attenuator": body.attenuator,
    }
    # every value is validated before the first byte goes out
    for field, value in changes.items():
        if value is not None:
            try:
                getattr(type(d), field).validator(value, d)
            except ValueRefused as exc:
                raise ValueRefused(f"{field}: {exc}") from None
    if body.units is not None and body.units not in d.unit_codes:
        raise ValueRefused(f"units: {body.units!r} has no code in this meter's configuration")

    def apply() -> None:
        for field, value in changes.items():
            if value is not None:
                setattr(d, field, value)
        if body.units is not None:
            d.set_units(body.units)
            pm.units = body.units

    pm.run("settings", apply)
    return Done()


@router.post("/{name}/zero", operation_id="zero_powermeter")
def zero(name: str, body: Zero, lab: LabDep) -> Done:
    pm = lab.get(name, PowerMeter)
    pm.run("zero", lambda: setattr(pm.driver, "zero", body.on))
    return Done()
