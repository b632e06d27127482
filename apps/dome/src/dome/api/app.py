"""Assemble the API process: settings, the IPC client, routers, metrics, discovery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request

from dome import __version__
from dome.api import errors, hardware, health, page, sessions, tracking
from dome.api.alpaca import build_router
from dome.api.deps import AppState, stream_tickets
from dome.api.discovery import start_discovery
from dome.api.metrics import build_registry
from dome.config import DomeSettings
from dome.control.ipc import AsyncIpcClient
from dome.core.catalogue import Catalogue
from dome.core.errors import NotConnectedError
from labkit.docs import install_offline_docs
from labkit.web import Health, health_route, metrics_route


def create_app(settings: DomeSettings, *, simulated: bool) -> FastAPI:
    ipc = AsyncIpcClient(settings.socket_path)
    state = AppState(
        settings=settings,
        ipc=ipc,
        catalogue=Catalogue(settings.catalogue_cache, online=settings.simbad_online),
        simulated=simulated,
    )

    async def poll_status() -> None:
        # One poller feeds every live page, so N browsers cost one IPC call per period.
        while True:
            try:
                state.latest_status = await ipc.call("status")
            except NotConnectedError:
                state.latest_status = {"state": "unreachable", "azimuth": None}
            await asyncio.sleep(page.PUSH_INTERVAL_S)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        poller = asyncio.create_task(poll_status())
        transport = None
        if settings.alpaca_access != "off" and settings.alpaca_discovery_port:
            transport = await start_discovery(
                settings.alpaca_discovery_host,
                settings.alpaca_discovery_port,
                settings.listen.port,
                settings.alpaca_allow_networks,
            )
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            if transport is not None:
                transport.close()
            await ipc.close()

    app = FastAPI(
        title="Dome controller",
        version=__version__,
        description="Observatory dome: goto, tracking, history. Commands need the token.",
        lifespan=lifespan,
    )
    app.state.dome = state
    errors.install(app)
    for module in (hardware, tracking, health, sessions, page):
        app.include_router(module.router)
    app.include_router(stream_tickets)

    def get_state(request: Request) -> AppState:
        return state

    app.include_router(build_router(get_state))
    registry, collector = build_registry(ipc)
    app.router.routes.append(metrics_route(registry, before=collector.refresh))

    async def check() -> Health:
        try:
            status: dict[str, Any] = await ipc.call("status")
        except NotConnectedError as exc:
            return Health(False, {"control": str(exc)})
        ok = bool(status["loop_healthy"])
        return Health(ok, {"state": status["state"], "fault": status["fault"]})

    app.router.routes.append(health_route(check))
    install_offline_docs(app)
    return app
