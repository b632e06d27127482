"""An in-process transport wired straight to a simulated instrument: no pty, no thread,
no pacing. The replies come from the same simulators as on a pty (written from the
manuals, not from the drivers), at the time the simulator says, so the API and core can be
tested in-process, in ``make check``.

It also has what :class:`daq.core.interfaces.Link` asks of a port, and can be made to
fail (``silent``, ``unplugged``) to see the lab mark an instrument down and recover.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable

from daq.core.errors import Disconnected, ReplyTimeout
from daq.sim.pty_port import SimDevice


class LoopbackTransport:
    def __init__(self, device: SimDevice, name: str, timeout: float = 1.0) -> None:
        self.device = device
        self._name = name
        self.timeout = timeout
        self.lock = threading.RLock()
        self._due: list[tuple[float, int, bytes]] = []
        self._seq = 0
        self._buffer = bytearray()
        self.received = bytearray()
        """Every byte the instrument received (tests assert nothing was sent)."""
        self.silent = False
        self.unplugged = False
        self.reconnects = 0
        self.last_error: str | None = None
        self.on_reconnect: list[Callable[[], None]] = []
        self.on_disconnect: list[Callable[[str], None]] = []
        self.connected = False

    @property
    def name(self) -> str:
        return self._name

    def open(self) -> None:
        if self.unplugged:
            raise Disconnected(f"{self.name}: not there")
        self.connected = True

    def close(self) -> None:
        self.connected = False

    def _check(self) -> None:
        if self.unplugged:
            self.connected = False
            raise Disconnected(f"{self.name}: lost (unplugged)")

    def _arrived(self) -> None:
        now = time.monotonic()
        while self._due and self._due[0][0] <= now:
            self._buffer += heapq.heappop(self._due)[2]

    def write(self, data: bytes) -> None:
        with self.lock:
            self._check()
            self.received += data
            now = time.monotonic()
            for delay, reply in self.device.feed(data, now):
                if not self.silent:
                    self._seq += 1
                    heapq.heappush(self._due, (now + delay, self._seq, reply))

    def read_until(self, terminator: bytes, timeout: float | None = None) -> bytes:
        with self.lock:
            self._check()
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            while True:
                self._arrived()
                index = self._buffer.find(terminator)
                if index >= 0:
                    reply = bytes(self._buffer[:index])
                    del self._buffer[: index + len(terminator)]
                    return reply
                wait = deadline - time.monotonic()
                if wait <= 0:
                    self._buffer.clear()
                    raise ReplyTimeout(f"{self.name}: no complete reply within {timeout} s")
                next_due = self._due[0][0] - time.monotonic() if self._due else wait
                time.sleep(max(0.0, min(wait, next_due, 0.01)))

    def discard_input(self) -> int:
        with self.lock:
            self._arrived()
            dropped = len(self._buffer)
            self._buffer.clear()
            return dropped

    def settle(self, window: float | None = None) -> int:
        with self.lock:
            limit = time.monotonic() + (self.timeout if window is None else window)
            dropped = 0
            while self._due and self._due[0][0] <= limit:
                time.sleep(max(0.0, self._due[0][0] - time.monotonic()))
                dropped += self.discard_input()
            return dropped + self.discard_input()
