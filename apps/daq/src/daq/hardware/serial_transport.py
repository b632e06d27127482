"""A :class:`~daq.hardware.transport.Transport` over pyserial, with reconnection.

The port is named by a stable path (a udev symlink such as ``/dev/serial/by-id/...``), so
an adapter that is unplugged and comes back under a new ``ttyUSBn`` is found again. When
the port fails, every call raises :class:`Disconnected` at once until the next attempt to
reopen is due; attempts back off exponentially so a missing adapter costs nothing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from daq.core.errors import Disconnected, ReplyTimeout


@dataclass(frozen=True)
class PortSettings:
    port: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    rtscts: bool = False
    xonxoff: bool = False
    timeout: float = 1.0
    """Seconds a reply may take unless the driver asks for longer (a move that answers
    when done)."""
    reconnect_initial: float = 0.1
    reconnect_max: float = 5.0
    quiet: float = 0.05
    connect_settle: float = 0.5
    """At most this long is spent dropping noise after opening the port."""
    """After a timeout, the line counts as settled once it has been silent this long after
    the late reply (see :meth:`SerialTransport.settle`)."""


class SerialTransport:
    def __init__(
        self,
        settings: PortSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.lock = threading.RLock()
        self._clock = clock
        self._port: serial.Serial | None = None
        self._buffer = bytearray()
        self._backoff = settings.reconnect_initial
        self._next_attempt = 0.0
        self._ever_opened = False
        self.reconnects = 0
        self.connect_noise = 0
        """Bytes dropped right after the port last opened (noise at connect)."""
        self.last_error: str | None = None
        self.on_reconnect: list[Callable[[], None]] = []
        """Called (holding the lock) after the port comes back, to restore a safe state."""
        self.on_disconnect: list[Callable[[str], None]] = []

    @property
    def name(self) -> str:
        return self.settings.port

    @property
    def connected(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        """Open now; raises Disconnected if the port is not there."""
        with self.lock:
            self._next_attempt = 0.0
            self._ensure_open(explicit=True)

    def close(self) -> None:
        with self.lock:
            if self._port is not None:
                with contextlib.suppress(OSError, serial.SerialException):
                    self._port.close()
            self._port = None
            self._buffer.clear()

    def _ensure_open(self, *, explicit: bool = False) -> serial.Serial:
        if self._port is not None:
            return self._port
        now = self._clock()
        if now < self._next_attempt:
            raise Disconnected(
                f"{self.name}: not connected ({self.last_error}); "
                f"next attempt in {self._next_attempt - now:.1f} s"
            )
        s = self.settings
        try:
            port = serial.Serial(
                port=s.port,
                baudrate=s.baudrate,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                rtscts=s.rtscts,
                xonxoff=s.xonxoff,
                timeout=s.timeout,
                write_timeout=s.timeout,
                exclusive=True,
            )
        except (OSError, serial.SerialException, ValueError) as exc:
            self.last_error = f"cannot open: {exc}"
            self._next_attempt = now + self._backoff
            self._backoff = min(self._backoff * 2, s.reconnect_max)
            raise Disconnected(f"{self.name}: {self.last_error}") from None
        port.reset_input_buffer()
        self._port = port
        self._buffer.clear()
        # an adapter or instrument that was just powered or plugged can send noise: let the
        # line go quiet before the first command (bounded, so a chattering line still opens)
        self.connect_noise = self._drop_until_quiet(port, self.settings.connect_settle, heard=True)
        self._backoff = s.reconnect_initial
        self.last_error = None
        if self._ever_opened:
            self.reconnects += 1
        self._ever_opened = True
        if not explicit:
            # opened behind the driver's back: let the owner restore a known state first
            for callback in self.on_reconnect:
                callback()
        return port

    def _fail(self, exc: BaseException) -> Disconnected:
        self.close()
        self.last_error = f"{type(exc).__name__}: {exc}"
        self._next_attempt = self._clock() + self._backoff
        self._backoff = min(self._backoff * 2, self.settings.reconnect_max)
        for callback in self.on_disconnect:
            callback(self.last_error)
        return Disconnected(f"{self.name}: lost ({self.last_error})")

    def write(self, data: bytes) -> None:
        with self.lock:
            port = self._ensure_open()
            try:
                port.write(data)
            except (OSError, serial.SerialException) as exc:
                raise self._fail(exc) from None

    def read_until(self, terminator: bytes, timeout: float | None = None) -> bytes:
        with self.lock:
            port = self._ensure_open()
            deadline = self._clock() + (self.settings.timeout if timeout is None else timeout)
            while True:
                index = self._buffer.find(terminator)
                if index >= 0:
                    reply = bytes(self._buffer[:index])
                    del self._buffer[: index + len(terminator)]
                    return reply
                remaining = deadline - self._clock()
                if remaining <= 0:
                    partial = bytes(self._buffer)
                    self._buffer.clear()
                    raise ReplyTimeout(
                        f"{self.name}: no complete reply within "
                        f"{self.settings.timeout if timeout is None else timeout:g} s"
                        + (f" (partial: {partial!r})" if partial else "")
                    )
                try:
                    port.timeout = remaining
                    chunk = port.read(max(1, port.in_waiting))
                except (OSError, serial.SerialException, TypeError) as exc:
                    # pyserial raises TypeError from in_waiting on a hung-up pty
                    raise self._fail(exc) from None
                self._buffer += chunk

    def discard_input(self) -> int:
        with self.lock:
            dropped = len(self._buffer)
            self._buffer.clear()
            if self._port is not None:
                try:
                    dropped += self._port.in_waiting
                    self._port.reset_input_buffer()
                except (OSError, serial.SerialException, TypeError) as exc:
                    raise self._fail(exc) from None
            return dropped

    def settle(self, window: float | None = None) -> int:
        """Read and drop input until the line has been quiet for ``settings.quiet`` after
        the last byte, or until ``window`` (default: the reply timeout) has passed with
        nothing at all: a reply that was late arrives within the window and is dropped
        instead of being read as the answer to the next question."""
        with self.lock:
            dropped = len(self._buffer)
            self._buffer.clear()
            if self._port is None:
                return dropped
            window = self.settings.timeout if window is None else window
            return dropped + self._drop_until_quiet(self._port, window, heard=False)

    def _drop_until_quiet(self, port: serial.Serial, window: float, *, heard: bool) -> int:
        """Drop bytes until ``settings.quiet`` passes without one (once something was heard,
        or from the start when ``heard``), at most ``window`` seconds."""
        dropped = 0
        deadline = self._clock() + window
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                return dropped
            try:
                port.timeout = min(remaining, self.settings.quiet) if heard else remaining
                chunk = port.read(max(1, port.in_waiting))
            except (OSError, serial.SerialException, TypeError) as exc:
                raise self._fail(exc) from None
            if not chunk:
                if heard:
                    return dropped
                continue
            heard = True
            dropped += len(chunk)
