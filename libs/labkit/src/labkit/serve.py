"""Run an ASGI app as a well-behaved service.

uvicorn serves the app; around it this module tells systemd when the socket is actually
listening (``READY=1``), feeds the watchdog from the app's health check, and on SIGTERM or
SIGINT stops accepting, lets requests in flight finish (bounded), says ``STOPPING=1`` and
exits 0. A socket that cannot be bound ends the process with uvicorn's status 3.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from labkit.listen import ListenAddress
from labkit.logs import get_logger
from labkit.systemd import Notifier, feed_watchdog

log = get_logger(__name__)


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after a graceful shutdown, so the process dies by the
    signal before it can say it stopped; a service that shut down cleanly exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        stop_signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._stop) for sig in stop_signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        log.info("stopping", signal=signal.Signals(sig).name)
        self.handle_exit(sig, frame)


def uvicorn_config(app: ASGIApp, listen: ListenAddress, **overrides: object) -> uvicorn.Config:
    options: dict[str, object] = {
        "host": listen.host,
        "port": listen.port,
        "log_config": None,  # labkit.logs owns the format
        "access_log": False,  # a scrape every 15 s per Prometheus is noise in the journal
        "lifespan": "on",
        "timeout_graceful_shutdown": 5,
        "server_header": False,
        "log_level": logging.getLogger().getEffectiveLevel(),
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)  # type: ignore[arg-type]


async def serve_async(
    app: ASGIApp,
    listen: ListenAddress,
    *,
    name: str,
    healthy: Callable[[], bool] = lambda: True,
    notifier: Notifier | None = None,
    **uvicorn_options: object,
) -> None:
    notifier = notifier or Notifier()
    server = _Server(uvicorn_config(app, listen, **uvicorn_options))

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        log.info("listening", service=name, url=listen.url)
        notifier.ready(status=f"serving on {listen}")
        await feed_watchdog(notifier, healthy)

    watcher = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        notifier.stopping()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        log.info("stopped", service=name)


def serve(app: ASGIApp, listen: ListenAddress, *, name: str, **kwargs: object) -> None:
    """Serve until SIGTERM/SIGINT. Blocks."""
    asyncio.run(serve_async(app, listen, name=name, **kwargs))  # type: ignore[arg-type]
