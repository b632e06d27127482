"""An in-memory transport that replays a script of exchanges: the byte-exact protocol test.

After pymeasure's ``expected_protocol``: each exchange is (bytes the driver must send,
bytes the instrument answers, or None when it answers nothing). A byte the driver sends
that the script does not expect, or a read with no reply scripted, fails at once; at the
end :meth:`ScriptedTransport.assert_done` checks every exchange was used and nothing is
left over in either direction.

Two kinds of reply model a real port's timing:

- :class:`Late` — the instrument answers after the driver has given up: the read times
  out, and the reply arrives the next time the driver touches the port (while it settles
  the line, or, if it does not, in the middle of its next question).
- :class:`Stale` — bytes already waiting in the port before the exchange (an earlier late
  reply, an echo, noise): a driver that drains before asking never sees them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from daq.core.errors import ReplyTimeout


@dataclass(frozen=True)
class Late:
    reply: bytes


@dataclass(frozen=True)
class Stale:
    before: bytes
    reply: bytes | None


Reply = bytes | Late | Stale | None
Exchange = tuple[bytes, Reply]


class ProtocolMismatch(AssertionError):  # noqa: N818
    pass


class ScriptedTransport:
    def __init__(self, exchanges: Iterable[Exchange], name: str = "script") -> None:
        self.lock = threading.RLock()
        self._name = name
        self._script = list(exchanges)
        self._index = 0
        self._sent = bytearray()
        self._replies = bytearray()
        self._late = bytearray()
        self.written = bytearray()
        """Everything the driver sent, for tests that assert nothing was sent."""
        self.discarded = bytearray()
        """Everything the driver threw away unread (late replies, echoes, noise)."""
        self._stale_armed = False
        # what core.interfaces.Link asks of a port, so core runs on a script too
        self.reconnects = 0
        self.last_error: str | None = None
        self.on_reconnect: list[Callable[[], None]] = []
        self.on_disconnect: list[Callable[[str], None]] = []
        self.connected = True

    @property
    def name(self) -> str:
        return self._name

    def open(self) -> None:
        self.connected = True

    def close(self) -> None:
        self.connected = False

    def _arrive_late(self) -> None:
        self._replies += self._late
        self._late.clear()

    def _arm_stale(self) -> None:
        """Bytes of a Stale exchange are in the port before the driver starts it."""
        if self._stale_armed or self._index >= len(self._script):
            return
        reply = self._script[self._index][1]
        if isinstance(reply, Stale):
            self._replies += reply.before
        self._stale_armed = True

    def write(self, data: bytes) -> None:
        self._arrive_late()
        self._arm_stale()
        self.written += data
        self._sent += data
        while self._sent:
            if self._index >= len(self._script):
                raise ProtocolMismatch(f"driver sent {bytes(self._sent)!r} after the script ended")
            expected, reply = self._script[self._index]
            if not expected.startswith(bytes(self._sent[: len(expected)])):
                raise ProtocolMismatch(
                    f"exchange {self._index}: expected {expected!r}, "
                    f"driver sent {bytes(self._sent)!r}"
                )
            if len(self._sent) < len(expected):
                return  # the command is still being written
            del self._sent[: len(expected)]
            self._index += 1
            self._stale_armed = False
            if isinstance(reply, Late):
                self._late += reply.reply
            elif isinstance(reply, Stale):
                if reply.reply is not None:
                    self._replies += reply.reply
            elif reply is not None:
                self._replies += reply
            self._arm_stale()

    def read_until(self, terminator: bytes, timeout: float | None = None) -> bytes:
        index = self._replies.find(terminator)
        if index < 0:
            raise ReplyTimeout(
                f"driver read at exchange {self._index} but no complete reply is scripted "
                f"(buffered {bytes(self._replies)!r})"
            )
        reply = bytes(self._replies[:index])
        del self._replies[: index + len(terminator)]
        return reply

    def discard_input(self) -> int:
        self._arm_stale()
        dropped = len(self._replies)
        self.discarded += self._replies
        self._replies.clear()
        return dropped

    def settle(self, window: float | None = None) -> int:
        self._arrive_late()
        return self.discard_input()

    def assert_done(self) -> None:
        if self._index != len(self._script):
            raise ProtocolMismatch(
                f"{len(self._script) - self._index} exchange(s) unused, "
                f"next {self._script[self._index]!r}"
            )
        if self._sent:
            raise ProtocolMismatch(f"unexpected bytes sent: {bytes(self._sent)!r}")
        if self._replies or self._late:
            raise ProtocolMismatch(f"reply bytes never read: {bytes(self._replies + self._late)!r}")
