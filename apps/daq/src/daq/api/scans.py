"""Scans: submit a plan, follow its progress, cancel it, read every point."""

from __future__ import annotations

from fastapi import APIRouter

from daq.api.deps import LabDep
from daq.api.models import AxisActuatorSpec, PointRange, ScanInfo, ScanPointModel, ScanRequest
from daq.core.errors import ValueRefused
from daq.core.lab import AxisActuator, MountActuator
from daq.core.scans import Scan, ScanPlan, expand_range

router = APIRouter(prefix="/scans", tags=["scans"])
MAX_POINTS = 10_000


def _info(s: Scan) -> ScanInfo:
    return ScanInfo(
        id=s.id,
        actuator=s.actuator,
        state=s.state,
        progress=s.progress,
        total_points=len(s.plan.points),
        points=[ScanPointModel(**p.__dict__) for p in s.points],
        path=str(s.path),
        started_at=s.started_at,
        ended_at=s.ended_at,
        error=s.error,
    )


@router.post("", status_code=201, operation_id="start_scan")
def start(body: ScanRequest, lab: LabDep) -> ScanInfo:
    if isinstance(body.points, PointRange):
        r = body.points
        if r.step == 0:
            raise ValueRefused("points.step must not be zero")
        if abs(r.stop - r.start) / abs(r.step) >= MAX_POINTS:
            raise ValueRefused(f"points: the range has more than {MAX_POINTS} points")
        points = expand_range(r.start, r.stop, r.step)
    else:
        points = list(body.points)
    if not points:
        raise ValueRefused("points: at least one point is needed")
    if len(points) > MAX_POINTS:
        raise ValueRefused(f"points: more than {MAX_POINTS}")
    lab.check_readings(body.readings)
    actuator: AxisActuator | MountActuator
    if isinstance(body.actuator, AxisActuatorSpec):
        actuator = lab.axis_actuator(body.actuator.instrument, body.actuator.axis)
    else:
        actuator = lab.mount_actuator(body.actuator.name)
    plan = ScanPlan(points, body.readings, body.settle_s, body.samples_per_point)
    return _info(lab.scans.start(actuator, plan))


@router.get("", operation_id="list_scans")
def list_all(lab: LabDep) -> list[ScanInfo]:
    return [_info(s) for s in lab.scans.list()]


@router.get("/{ident}", operation_id="get_scan")
def get(ident: str, lab: LabDep) -> ScanInfo:
    return _info(lab.scans.get(ident))


@router.post("/{ident}/cancel", operation_id="cancel_scan")
def cancel(ident: str, lab: LabDep) -> ScanInfo:
    return _info(lab.scans.cancel(ident))
