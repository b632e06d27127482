"""The narrow interface drivers talk through: write bytes, read a terminated reply.

A transport owns the one lock of its port: a driver holds it for a whole transaction
(command, reply, error check) so two threads, or two ELL14 mounts on one bus, never
interleave bytes.
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

    def discard_input(self) -> None:
        """Drop whatever was received and not read (a late reply, garbage)."""
        ...
