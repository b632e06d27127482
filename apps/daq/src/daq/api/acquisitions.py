"""Acquisitions: start, list, inspect, stop."""

from __future__ import annotations

from fastapi import APIRouter

from daq.api.deps import LabDep
from daq.api.models import AcquisitionInfo, AcquisitionRequest
from daq.core.acquisition import Acquisition, AcquisitionPlan, RunInfo

router = APIRouter(prefix="/acquisitions", tags=["acquisitions"])


def _info(a: Acquisition) -> AcquisitionInfo:
    return AcquisitionInfo(
        id=a.id,
        kind=a.kind,
        state=a.state,
        path=str(a.path),
        format=a.format,
        readings=a.readings,
        rows=a.rows,
        rows_on_disk=a.rows_on_disk,
        gap_rows=a.gap_rows,
        flagged_rows=a.flagged_rows,
        started_at=a.started_at,
        ended_at=a.ended_at,
        error=a.error,
        rate_hz=a.plan.rate_hz,
        operator=a.plan.info.operator,
        sample=a.plan.info.sample,
    )


@router.post("", status_code=201, operation_id="start_acquisition")
def start(body: AcquisitionRequest, lab: LabDep) -> AcquisitionInfo:
    info = RunInfo(body.operator, body.sample, body.notes, body.label)
    plan = AcquisitionPlan(body.readings, body.rate_hz, body.format, body.duration_s, info)
    return _info(lab.acquisitions.start(plan))


@router.get("", operation_id="list_acquisitions")
def list_all(lab: LabDep) -> list[AcquisitionInfo]:
    return [_info(a) for a in lab.acquisitions.list()]


@router.get("/{ident}", operation_id="get_acquisition")
def get(ident: str, lab: LabDep) -> AcquisitionInfo:
    return _info(lab.acquisitions.get(ident))


@router.post("/{ident}/stop", operation_id="stop_acquisition")
def stop(ident: str, lab: LabDep) -> AcquisitionInfo:
    return _info(lab.acquisitions.stop(ident))
