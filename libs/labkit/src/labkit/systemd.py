"""systemd notification: readiness, status, stopping and the watchdog.

Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op, so apps call these
unconditionally. The watchdog is only ever fed from a health check the app supplies:
a process that still runs but no longer does its job must starve it and be restarted.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping

import sdnotify

from labkit.logs import get_logger

log = get_logger(__name__)


class Notifier:
    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._sd = sdnotify.SystemdNotifier() if self.enabled else None
        self.watchdog_interval = _watchdog_interval(os.environ)

    def _send(self, message: str) -> None:
        if self._sd is not None:
            self._sd.notify(message)

    def ready(self, status: str | None = None) -> None:
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> None:
        self._send(f"STATUS={text}")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Seconds between pings: half of ``WatchdogSec``, as sd_watchdog_enabled(3) advises."""
    usec = env.get("WATCHDOG_USEC")
    if not usec or not usec.isdigit() or int(usec) == 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process of the unit
    return int(usec) / 1_000_000 / 2


async def feed_watchdog(notifier: Notifier, healthy: Callable[[], bool]) -> None:
    """Ping the watchdog every half period while ``healthy()`` says so; runs until cancelled."""
    interval = notifier.watchdog_interval
    if interval is None:
        return
    starving = False
    while True:
        if healthy():
            if starving:
                log.info("healthy again, feeding the watchdog")
            starving = False
            notifier.watchdog()
        elif not starving:
            starving = True
            log.error("unhealthy: not feeding the systemd watchdog")
        await asyncio.sleep(interval)
