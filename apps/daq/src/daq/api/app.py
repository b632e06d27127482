"""Assembles the FastAPI app: routers under /api behind the token, /metrics, /healthz."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from daq import __version__
from daq.api import (
    acquisitions,
    instruments,
    lasers,
    mounts,
    page,
    powermeters,
    scans,
    stages,
    stream,
)
from daq.api.deps import auth, require_token
from daq.api.errors import ERROR_RESPONSES, HTTP_ERRORS
from daq.core.lab import Lab
from labkit.docs import install_offline_docs
from labkit.errors import install_error_handlers
from labkit.web import Health, health_route, metrics_route


def create_app(lab: Lab, token: str, *, manage_lab: bool = True) -> FastAPI:
    """``manage_lab``: start the lab's monitor with the app and bring everything to a
    safe state when it stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_lab:
            await run_in_threadpool(lab.start)
        try:
            yield
        finally:
            if manage_lab:
                await run_in_threadpool(lab.shutdown)

    app = FastAPI(
        title="daq",
        version=__version__,
        description="Lab-instrument daemon: ESP300, 1830-C, MaiTai, ELL14; acquisitions, scans.",
        lifespan=lifespan,
    )
    app.state.lab = lab
    app.state.token = token
    install_error_handlers(app, HTTP_ERRORS)
    secured = [Depends(require_token)]
    for module in (instruments, stages, powermeters, lasers, mounts, acquisitions, scans):
        app.include_router(
            module.router, prefix="/api", dependencies=secured, responses=ERROR_RESPONSES
        )
    app.include_router(stream.router, prefix="/api")
    app.include_router(auth.ticket_router("/api/stream-ticket"))

    def health() -> Health:
        detail = {name: inst.up for name, inst in lab.instruments.items()}
        return Health(ok=lab.healthy() or not manage_lab, detail={"instruments": detail})

    app.include_router(page.router)
    app.mount("/static", page.static_files(), name="static")
    app.router.routes.append(metrics_route(lab.metrics.registry))
    app.router.routes.append(health_route(health))
    install_offline_docs(app)
    return app
