"""A simulated instrument's serial port: the master side of a real pseudo-terminal.

The driver opens the slave by a stable symlink (like a udev name) with the same
``serial.Serial`` call it uses for a real adapter. Bytes are paced at the configured
baud rate in both directions (10 bits a byte for 8N1): a command is acted on only when
its last byte would have arrived, and a reply reaches the driver a few bytes at a time.

Faults, as real ports show them, can be switched on while running (``fault = ...``, every
reply) or injected for the next replies only (``inject(fault, count)``):

- ``silence`` — no reply; ``garbage`` — non-ASCII bytes instead of a reply; ``partial`` —
  half a reply and no terminator;
- ``late`` — the reply comes ``late_s`` after it should, after the driver's timeout;
- ``split`` — the reply comes in two pieces ``split_gap_s`` apart;
- ``echo`` — every command is echoed back before its reply (a port left echoing);
- ``drop`` — one byte of the reply is lost (``drop_index``, default the terminator);
- ``noise`` — random bytes on the line just after the port (re)appears (also at start with
  ``noise_at_plug=True``),

and ``unplug()`` / ``replug()`` close the pty (the driver sees I/O errors and the symlink
vanishes) and later serve a new one at the same symlink.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import random
import select
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

Fault = Literal["silence", "garbage", "partial", "late", "split", "echo", "drop", "noise"]
FAULTS: tuple[Fault, ...] = (
    "silence",
    "garbage",
    "partial",
    "late",
    "split",
    "echo",
    "drop",
    "noise",
)


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    data: bytes = field(compare=False)
    generation: int = field(compare=False, default=0)


class SimDevice(Protocol):
    def feed(self, data: bytes, now: float) -> list[tuple[float, bytes]]:
        """Take received bytes; return replies as (seconds of work before replying, bytes)."""
        ...


class PtyPort:
    def __init__(
        self,
        device: SimDevice,
        link: Path,
        *,
        baudrate: int,
        bits_per_byte: int = 10,
        late_s: float = 1.5,
        split_gap_s: float = 0.05,
        drop_index: int = -1,
        noise_at_plug: bool = False,
    ) -> None:
        self.device = device
        self.link = Path(link)
        self.baudrate = baudrate
        self.byte_time = bits_per_byte / baudrate
        self.fault: Fault | None = None
        self.late_s = late_s
        self.split_gap_s = split_gap_s
        self.drop_index = drop_index
        self.noise_at_plug = noise_at_plug
        self._once: list[Fault] = []
        self.noise_sent = 0
        self.received = bytearray()
        """Every byte the instrument received, so a test can assert none were sent."""
        self.sent = bytearray()
        self._lock = threading.Lock()
        self._queue: list[_Due] = []
        self._seq = 0
        self._generation = 0
        self._master: int | None = None
        self._slave: int | None = None
        self._rx_free = 0.0
        self._busy: list[tuple[float, float]] = []
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.slave_name = ""

    # --- lifecycle ----------------------------------------------------------------------

    def inject(self, fault: Fault, count: int = 1) -> None:
        """Apply ``fault`` to the next ``count`` replies only (``noise``: at once)."""
        if fault == "noise":
            self._noise()
            return
        with self._lock:
            self._once.extend([fault] * count)

    def _noise(self) -> None:
        """Line noise now and a little later, as a port shows when it (re)appears."""
        with self._lock:
            now = time.monotonic()
            for delay in (0.0, 0.05):
                burst = random.randbytes(random.randint(3, 12))  # noqa: S311 - noise
                self.noise_sent += len(burst)
                self._schedule(now + delay, burst)
        self._wake()

    def start(self) -> PtyPort:
        self._plug()
        if self.noise_at_plug:
            self._noise()
        self._thread = threading.Thread(target=self._run, name=f"sim {self.link.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._unplug()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PtyPort:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self.slave_name = os.ttyname(slave)
        self._master, self._slave = master, slave
        tmp = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(self.slave_name)
        tmp.replace(self.link)  # atomic, as udev renames

    def _unplug(self) -> None:
        with self._lock:
            self._generation += 1
            self._queue.clear()
            master, slave = self._master, self._slave
            self._master = self._slave = None
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        for fd in (master, slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def unplug(self) -> None:
        """As if the USB adapter were pulled: the pty closes and the symlink goes."""
        self._unplug()
        self._wake()

    def replug(self) -> None:
        """A new pty at the same symlink, as udev would create after re-plugging."""
        with self._lock:
            if self._master is not None:
                return
        self._rx_free = 0.0
        self._busy = []
        self._plug()
        if self.noise_at_plug:
            self._noise()
        self._wake()

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    # --- the loop -----------------------------------------------------------------------

    def _schedule(self, at: float, data: bytes) -> None:
        self._seq += 1
        heapq.heappush(self._queue, _Due(at, self._seq, data, self._generation))

    def _next_fault(self) -> Fault | None:
        return self._once.pop(0) if self._once else self.fault

    def _reply(self, ready: float, data: bytes) -> None:
        """Queue ``data`` to leave once the line is free, a few bytes at a time."""
        fault = self._next_fault()
        if fault == "silence" or not data:
            return
        if fault == "garbage":
            noise = random.randbytes(len(data))  # noqa: S311 - line noise, not a secret
            data = bytes(b | 0x80 for b in noise) + data[-1:]
        elif fault == "partial":
            data = data[: max(1, len(data) // 2)].rstrip(b"\r\n") or b"?"
        elif fault == "drop":
            index = self.drop_index % len(data)
            data = data[:index] + data[index + 1 :]
        elif fault == "late":
            ready += self.late_s
        pieces = [data]
        if fault == "split" and len(data) > 1:
            pieces = [data[: len(data) // 2], data[len(data) // 2 :]]
        start = ready
        for number, piece in enumerate(pieces):
            if number:
                start += self.split_gap_s
            start = self._pace(start, piece)

    def _slot(self, ready: float, duration: float) -> float:
        """The earliest start from ``ready`` when the line is free for ``duration``: one
        transmitter at a time, but a reply due later (a long move) does not hold the line
        before it starts."""
        self._busy = [(a, b) for a, b in self._busy if b > time.monotonic() - 1.0]
        start = ready
        for a, b in sorted(self._busy):
            if start + duration <= a:
                break
            if start < b:
                start = b
        self._busy.append((start, start + duration))
        return start

    def _pace(self, start: float, data: bytes) -> float:
        """Schedule ``data`` byte-paced from the first free slot at or after ``start``;
        returns when it has left."""
        start = self._slot(start, len(data) * self.byte_time)
        chunk = max(1, int(0.002 / self.byte_time))  # about 2 ms of line time per write
        for offset in range(0, len(data), chunk):
            piece = data[offset : offset + chunk]
            start += len(piece) * self.byte_time
            self._schedule(start, piece)
        return start

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                master = self._master
                next_due = self._queue[0].at if self._queue else None
            now = time.monotonic()
            timeout = 0.5 if next_due is None else max(0.0, next_due - now)
            fds = [self._wake_r] + ([master] if master is not None else [])
            try:
                readable, _, _ = select.select(fds, [], [], timeout)
            except (OSError, ValueError):
                continue  # the master was closed under us by unplug()
            if self._wake_r in readable:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 1024)
            if master is not None and master in readable:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b""
                if data:
                    self._receive(data)
            self._send_due()

    def _receive(self, data: bytes) -> None:
        now = time.monotonic()
        self.received += data
        # the instrument has the command only once its last byte has crossed the line
        arrived = max(now, self._rx_free) + len(data) * self.byte_time
        self._rx_free = arrived
        with self._lock:
            if self.fault == "echo":
                self._pace(now, data)
            for work, reply in self.device.feed(data, arrived):
                self._reply(arrived + work, reply)

    def _send_due(self) -> None:
        while True:
            with self._lock:
                if not self._queue or self._queue[0].at > time.monotonic():
                    return
                due = heapq.heappop(self._queue)
                master = self._master
                if due.generation != self._generation or master is None:
                    continue
            try:
                os.write(master, due.data)
                self.sent += due.data
            except OSError:
                pass
