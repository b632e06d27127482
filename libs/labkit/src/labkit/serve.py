"""Run an ASGI app as a well-behaved service.

uvicorn serves the app; around it this module tells systemd when the socket is actually
listening (``READY=1``), feeds the watchdog from the app's health check, and on SIGTERM or
SIGINT stops accepting, lets requests in flight finish (bounded) and says ``STOPPING=1``.
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
    """uvicorn re-raises a caught SIGTERM/SIGINT once it has shut down, which kills the
    process before :func:`serve_async` can send ``STOPPING=1`` and log; here a signal only
    asks the server to exit, and the service then returns normally (status 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers can only be set from the main thread
            return

        def on_signal(sig: int, frame: FrameType | None) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True  # a second Ctrl-C skips the graceful wait
            else:
                log.info("stopping", signal=signal.Signals(sig).name)
                self.should_exit = True

        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, on_signal) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


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
    if not server.started:
        # uvicorn logs the bind error and returns; a service that never listened failed.
        raise SystemExit(1)


def serve(app: ASGIApp, listen: ListenAddress, *, name: str, **kwargs: object) -> None:
    """Serve until SIGTERM/SIGINT. Blocks."""
    asyncio.run(serve_async(app, listen, name=name, **kwargs))  # type: ignore[arg-type]
