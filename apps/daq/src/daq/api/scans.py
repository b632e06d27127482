"""Scans: submit a 1-D or 2-D (grid) plan, follow its progress, cancel it, read every
point. The plan is built and checked in ``core``; this module only translates."""

from __future__ import annotations

from fastapi import APIRouter

from daq.api.deps import LabDep
from daq.api.models import (
    AxisActuatorSpec,
    MountActuatorSpec,
    PointRange,
    ScanAxisSpec,
    ScanInfo,
    ScanPointModel,
    ScanRequest,
)
from daq.core.acquisition import RunInfo
from daq.core.errors import ValueRefused
from daq.core.lab import Lab
from daq.core.scans import Actuator, Scan, ScanAxis, ScanPlan, expand_range

router = APIRouter(prefix="/scans", tags=["scans"])


def _info(s: Scan) -> ScanInfo:
    return ScanInfo(
        id=s.id,
        kind=s.kind,
        state=s.state,
        path=str(s.path),
        format=s.format,
        readings=s.readings,
        rows=s.rows,
        rows_on_disk=s.rows_on_disk,
        gap_rows=s.gap_rows,
        flagged_rows=s.flagged_rows,
        started_at=s.started_at,
        ended_at=s.ended_at,
        error=s.error,
        actuators=s.actuators,
        progress=s.progress,
        total_points=s.plan.total_points,
        points=[ScanPointModel(**p.__dict__) for p in s.points],
    )


def _actuator(lab: Lab, spec: MountActuatorSpec | AxisActuatorSpec) -> Actuator:
    if isinstance(spec, AxisActuatorSpec):
        return lab.axis_actuator(spec.instrument, spec.axis)
    return lab.mount_actuator(spec.name)


def _axis(lab: Lab, spec: ScanAxisSpec) -> ScanAxis:
    points = spec.points
    if isinstance(points, PointRange):
        values = expand_range(points.start, points.stop, points.step)
    else:
        values = list(points)
    return ScanAxis(_actuator(lab, spec.actuator), values)


@router.post("", status_code=201, operation_id="start_scan")
def start(body: ScanRequest, lab: LabDep) -> ScanInfo:
    if body.axes is not None:
        if body.actuator is not None or body.points is not None:
            raise ValueRefused("axes: give either axes, or actuator and points, not both")
        specs = body.axes
    elif body.actuator is not None and body.points is not None:
        specs = [ScanAxisSpec(actuator=body.actuator, points=body.points)]
    else:
        raise ValueRefused("axes: give axes, or actuator and points")
    lab.check_readings(body.readings)
    plan = ScanPlan(
        axes=[_axis(lab, s) for s in specs],
        readings=body.readings,
        settle_s=body.settle_s,
        samples_per_point=body.samples_per_point,
        format=body.format,
        info=RunInfo(body.operator, body.sample, body.notes, body.label),
    )
    return _info(lab.scans.start(plan))


@router.get("", operation_id="list_scans")
def list_all(lab: LabDep) -> list[ScanInfo]:
    return [_info(s) for s in lab.scans.list()]


@router.get("/{ident}", operation_id="get_scan")
def get(ident: str, lab: LabDep) -> ScanInfo:
    return _info(lab.scans.get(ident))


@router.post("/{ident}/cancel", operation_id="cancel_scan")
def cancel(ident: str, lab: LabDep) -> ScanInfo:
    return _info(lab.scans.cancel(ident))
