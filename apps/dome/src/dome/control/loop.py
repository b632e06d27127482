"""The control loop: a dedicated thread that ticks the controller at a fixed rate.

Scheduling is on absolute deadlines (start + k * period), so a late tick does not push
every later tick back. The loop also measures itself (period histogram, recent periods
for jitter) and is the only thing that feeds the systemd watchdog.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from dome.core.controller import Controller
from labkit.logs import get_logger
from labkit.systemd import Notifier

log = get_logger(__name__)

# Period buckets in seconds, dense around the nominal 20 ms where jitter shows.
PERIOD_BUCKETS = (
    0.010,
    0.018,
    0.019,
    0.0195,
    0.0199,
    0.0201,
    0.0205,
    0.021,
    0.022,
    0.025,
    0.03,
    0.05,
    0.1,
    0.25,
)


class ControlLoop:
    def __init__(
        self,
        controller: Controller,
        period: float,
        *,
        notifier: Notifier | None = None,
        after_tick: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rt_priority: int = 0,
    ) -> None:
        self._rt_priority = rt_priority
        self._controller = controller
        self.period = period
        self._notifier = notifier or Notifier()
        self._after_tick = after_tick
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="control-loop", daemon=True)
        self._last_tick: float | None = None
        self._failed: str | None = None
        self.bucket_counts = [0] * (len(PERIOD_BUCKETS) + 1)
        self.period_sum = 0.0
        self.period_count = 0
        self.recent_periods: deque[float] = deque(maxlen=3000)
        self.ticks = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def healthy(self) -> bool:
        last = self._last_tick
        return self._failed is None and last is not None and self._clock() - last < 5 * self.period

    @property
    def failure(self) -> str | None:
        return self._failed

    def _realtime(self) -> None:
        """SCHED_FIFO for this thread only, so a busy machine does not delay the ticks; the
        unit grants it with LimitRTPRIO. Without the right, the loop runs at normal priority."""
        if not self._rt_priority or not hasattr(os, "sched_setscheduler"):
            return
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self._rt_priority))
            log.info("control loop runs SCHED_FIFO", priority=self._rt_priority)
        except (PermissionError, OSError) as exc:
            log.warning("no real-time priority for the control loop", error=str(exc))

    def _run(self) -> None:
        self._realtime()
        next_deadline = self._clock()
        watchdog_every = self._notifier.watchdog_interval
        last_watchdog = 0.0
        while not self._stop.is_set():
            now = self._clock()
            if next_deadline > now:
                time.sleep(next_deadline - now)
            started = self._clock()
            if self._last_tick is not None:
                self._record(started - self._last_tick)
            self._last_tick = started
            try:
                self._controller.tick()
                if self._after_tick is not None:
                    self._after_tick()
            except Exception as exc:  # a bug must stop the motor and starve the watchdog
                self._failed = f"{type(exc).__name__}: {exc}"
                log.error("control loop failed: stopping the motor", error=self._failed)
                try:
                    self._controller.shutdown()
                finally:
                    return  # noqa: B012 - nothing more may run after a failed tick
            self.ticks += 1
            if watchdog_every is not None and started - last_watchdog >= watchdog_every:
                if self.healthy():
                    self._notifier.watchdog()
                last_watchdog = started
            next_deadline += self.period
            if next_deadline < self._clock() - self.period:
                next_deadline = self._clock()  # far behind (suspend, debugger): resync

    def _record(self, period: float) -> None:
        with self._lock:
            self.bucket_counts[bisect.bisect_left(PERIOD_BUCKETS, period)] += 1
            self.period_sum += period
            self.period_count += 1
            self.recent_periods.append(period)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            recent = sorted(self.recent_periods)
        out: dict[str, Any] = {
            "buckets": list(PERIOD_BUCKETS),
            "bucket_counts": list(self.bucket_counts),
            "sum": self.period_sum,
            "count": self.period_count,
            "ticks": self.ticks,
            "healthy": self.healthy(),
            "failure": self._failed,
        }
        if recent:
            jit = sorted(abs(p - self.period) for p in recent)
            out["rate_hz"] = len(recent) / sum(recent)
            out["jitter_p50_ms"] = jit[len(jit) // 2] * 1000
            out["jitter_p99_ms"] = jit[min(len(jit) - 1, int(len(jit) * 0.99))] * 1000
        return out
