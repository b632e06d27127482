"""Health: the control loop's diagnostics and the machine's."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from fastapi import APIRouter

from dome import __version__
from dome.api.deps import Read, State
from dome.core.errors import NotConnectedError

router = APIRouter(prefix="/api/health", tags=["health"])
_STARTED = time.time()


@router.get("/diagnostic", operation_id="diagnostic", dependencies=[Read])
async def diagnostic(state: State) -> dict[str, Any]:
    """The control loop (rate, jitter, health) and the encoder (frames, errors by kind)."""
    try:
        status = await state.ipc.call("status")
        loop = await state.ipc.call("loop_stats")
    except NotConnectedError as exc:
        return {"control_reachable": False, "error": str(exc)}
    return {
        "control_reachable": True,
        "state": status["state"],
        "fault": status["fault"],
        "encoder": {"frames_ok": status["frames_ok"], "frame_errors": status["frame_errors"]},
        "loop": {k: v for k, v in loop.items() if k not in ("buckets", "bucket_counts")},
    }


@router.get("/system", operation_id="system", dependencies=[Read])
async def system(state: State) -> dict[str, Any]:
    load1, load5, load15 = os.getloadavg()
    disk = shutil.disk_usage(state.settings.state_dir if state.settings.state_dir.exists() else "/")
    return {
        "version": __version__,
        "simulated": state.simulated,
        "api_uptime_s": time.time() - _STARTED,
        "load": [load1, load5, load15],
        "cpus": os.cpu_count(),
        "state_dir_free_bytes": disk.free,
    }
