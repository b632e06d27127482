"""Instruments, their status, and their readings."""

from __future__ import annotations

from fastapi import APIRouter

from daq.api.deps import LabDep
from daq.api.models import InstrumentStatus, Reading
from daq.core.instruments import Status

router = APIRouter(tags=["instruments"])


def _status(status: Status) -> InstrumentStatus:
    return InstrumentStatus(**status.__dict__)


@router.get("/instruments", operation_id="list_instruments")
def list_instruments(lab: LabDep) -> list[InstrumentStatus]:
    return [_status(i.status()) for i in lab.instruments.values()]


@router.get("/instruments/{name}", operation_id="get_instrument")
def get_instrument(name: str, lab: LabDep) -> InstrumentStatus:
    return _status(lab.get(name).status())


@router.get("/readings", operation_id="list_readings")
def list_readings(lab: LabDep) -> list[str]:
    return lab.reading_names


@router.get("/readings/{name}", operation_id="read")
def read(name: str, lab: LabDep) -> Reading:
    sample = lab.read(name)
    return Reading(
        name=name,
        value=sample.value,
        good=sample.good,
        flags=list(sample.flags),
        status=sample.status,
    )
