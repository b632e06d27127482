"""The exporter as an ASGI app: ``/metrics`` refreshes through the cache, ``/healthz``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette

from labkit.errors import install_error_handlers
from labkit.web import Health, health_route, metrics_route
from picotemp.exporter.config import ExporterSettings
from picotemp.exporter.metrics import ExporterMetrics
from picotemp.exporter.singleflight import ReadingCache
from picotemp.exporter.upstream import PicoClient


class LoopMonitor:
    """Ticks on the event loop; a loop that stopped ticking is not healthy, so the systemd
    watchdog (fed from :meth:`healthy`) starves and systemd restarts the exporter."""

    def __init__(self, interval_seconds: float = 0.5, limit_seconds: float = 5.0) -> None:
        self.interval_seconds = interval_seconds
        self.limit_seconds = limit_seconds
        self.last_tick = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def lag_seconds(self) -> float:
        return time.monotonic() - self.last_tick

    def healthy(self) -> bool:
        return (
            self._task is not None
            and not self._task.done()
            and self.lag_seconds() < self.limit_seconds
        )

    async def _run(self) -> None:
        while True:
            self.last_tick = time.monotonic()
            await asyncio.sleep(self.interval_seconds)

    def start(self) -> None:
        self.last_tick = time.monotonic()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Exporter:
    def __init__(
        self, settings: ExporterSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        # One connection is all the Pico needs from us; it closes each one after answering.
        self.http = httpx.AsyncClient(
            transport=transport,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=0),
            headers={"User-Agent": "picotemp-exporter"},
        )
        self.client = PicoClient(str(settings.server_url), settings.timeout_seconds, self.http)
        self.cache = ReadingCache(
            self.client.fetch, settings.cache_seconds, on_outcome=lambda o: self.metrics.record(o)
        )
        self.metrics = ExporterMetrics(
            self.cache, stale_after_seconds=settings.cache_seconds + settings.timeout_seconds
        )
        self.loop_monitor = LoopMonitor()

    async def refresh(self) -> None:
        await self.cache.get()

    def metrics_version(self) -> tuple[int, bool]:
        """Changes whenever the text of /metrics would: a new outcome (counters move only
        then) or the latest outcome turning stale."""
        return self.cache.generation, self.metrics.collector.current() is None

    def healthy(self) -> bool:
        return self.loop_monitor.healthy()

    def health(self) -> Health:
        latest = self.cache.latest
        detail: dict[str, object] = {
            "pico_up": bool(latest is not None and latest.ok),
            "loop_lag_seconds": round(self.loop_monitor.lag_seconds(), 3),
        }
        if latest is not None and latest.error is not None:
            detail["last_error"] = latest.error.reason
        return Health(ok=self.healthy(), detail=detail)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.loop_monitor.start()
        try:
            yield
        finally:
            await self.loop_monitor.stop()
            await self.http.aclose()


def create_app(exporter: Exporter) -> Starlette:
    app = Starlette(
        routes=[
            metrics_route(
                exporter.metrics.registry,
                before=exporter.refresh,
                cache_key=exporter.metrics_version,
            ),
            health_route(exporter.health),
        ],
        lifespan=exporter.lifespan,
    )
    install_error_handlers(app)  # 404/405/500 answer labkit's problem body, as in every app
    return app
