"""Weather and safety: a rain sensor on GPIO or an ASCOM Alpaca SafetyMonitor.

A thread polls the source every ``poll_s``. Unsafe, or a source that cannot be read
(unplugged sensor, unreachable monitor), counts as unsafe at once: the shutter closes,
and the dome parks. Safe again needs ``clear_s`` of safe readings in a row before the
shutter may open (rain stops and starts). Without a configured source the shutter is
"unmonitored": opening is the operator's call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dome.core.ports import SafetySource

EventSink = Callable[[str, dict[str, Any]], None]


def _noop(kind: str, data: dict[str, Any]) -> None:
    pass


class SafetyMonitor:
    def __init__(
        self,
        source: SafetySource | None,
        *,
        clear_s: float,
        clock: Callable[[], float],
        on_unsafe: Callable[[str], None],
        on_event: EventSink = _noop,
    ) -> None:
        self._source = source
        self.clear_s = clear_s
        self._clock = clock
        self._on_unsafe = on_unsafe
        self._emit = on_event
        self._lock = threading.Lock()
        self.state = "unmonitored" if source is None else "unsafe"
        self.reason: str | None = None if source is None else "not read yet"
        self._safe_since: float | None = None
        self.last_poll: float | None = None

    @property
    def source_name(self) -> str | None:
        return self._source.name if self._source is not None else None

    def poll(self) -> None:
        if self._source is None:
            return
        try:
            safe = bool(self._source.is_safe())
            why = None if safe else f"{self._source.name} says unsafe"
        except Exception as exc:  # any failure of the source is a lost source
            safe, why = False, f"{self._source.name} unreadable: {exc}"
        now = self._clock()
        with self._lock:
            self.last_poll = now
            if not safe:
                self._safe_since = None
                went_unsafe = self.state != "unsafe" or self.reason == "not read yet"
                self.state, self.reason = "unsafe", why
            else:
                went_unsafe = False
                if self._safe_since is None:
                    self._safe_since = now
                if self.state != "safe" and now - self._safe_since >= self.clear_s:
                    self.state, self.reason = "safe", None
                    self._emit("safety", {"state": "safe"})
                elif self.state != "safe":
                    left = self.clear_s - (now - self._safe_since)
                    self.reason = f"safe for {now - self._safe_since:.0f} s, {left:.0f} s to go"
        if went_unsafe:
            self._emit("safety", {"state": "unsafe", "reason": why})
            self._on_unsafe(why or "unsafe")

    def open_refusal(self) -> str | None:
        """Why the shutter may not open now, or None."""
        with self._lock:
            if self.state in ("safe", "unmonitored"):
                return None
            return self.reason or "unsafe"

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "state": self.state,
                "reason": self.reason,
                "source": self.source_name,
                "last_poll": self.last_poll,
            }
