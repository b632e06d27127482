"""The narrow interface drivers talk through: write bytes, read a terminated reply, and
throw away what nobody asked for.

A transport owns the one lock of its port: a driver holds it for a whole transaction
(drain, command, reply, error check) so two threads, or two ELL14 mounts on one bus, never
interleave bytes.

Why drain: after a timeout the instrument's reply may still arrive. Left in the port it
would be read as the answer to the next question (a late ``W?`` read as the power). So a
driver drains the input before every transaction (:meth:`Transport.discard_input`) and,
after a timeout or a reply it cannot use, waits for the line to go quiet
(:meth:`Transport.settle`) so the late reply is thrown away too.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Transport(Protocol):
    lock: threading.RLock
    """Held for a whole transaction; re-entrant so a transaction can nest a check."""

    @property
    def name(self) -> str:
        """Where the bytes go (a port path), for messages."""
        ...

    def write(self, data: bytes) -> None:
        """Send ``data`` as is."""
        ...

    def read_until(self, terminator: bytes, timeout: float | None = None) -> bytes:
        """The bytes up to ``terminator`` (which is dropped); raise ReplyTimeout if it does
        not arrive within ``timeout`` seconds (the transport's default when None)."""
        ...

    def discard_input(self) -> int:
        """Drop whatever was received and not read (a late reply, an echo, noise); return
        how many bytes were dropped."""
        ...

    def settle(self, window: float | None = None) -> int:
        """After a timeout or a bad reply: read and drop everything for up to ``window``
        seconds (the transport's timeout when None), returning early once something has
        arrived and the line has then been quiet for a while. Returns the bytes dropped."""
        ...
