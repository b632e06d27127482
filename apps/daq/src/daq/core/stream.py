"""Fan-out of live readings to whoever listens (the WebSocket route)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from labkit.logs import get_logger

log = get_logger(__name__)

Subscriber = Callable[[dict[str, Any]], None]


class Broadcaster:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, message: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(message)
            except Exception as exc:  # a listener's trouble must never stop an acquisition
                log.warning("stream subscriber failed", error=str(exc))
