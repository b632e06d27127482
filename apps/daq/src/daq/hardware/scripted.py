"""An in-memory transport that replays a script of exchanges: the byte-exact protocol test.

After pymeasure's ``expected_protocol``: each exchange is (bytes the driver must send,
bytes the instrument answers or None when it answers nothing). A byte the driver sends
that the script does not expect, or a read with no reply scripted, fails at once; at the
end :meth:`ScriptedTransport.assert_done` checks every exchange was used and nothing is
left over in either direction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from daq.hardware.errors import ReplyTimeout

Exchange = tuple[bytes, bytes | None]


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
        self.written = bytearray()
        """Everything the driver sent, for tests that assert nothing was sent."""

    @property
    def name(self) -> str:
        return self._name

    def write(self, data: bytes) -> None:
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
            if reply is not None:
                self._replies += reply

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

    def discard_input(self) -> None:
        self._replies.clear()

    def assert_done(self) -> None:
        if self._index != len(self._script):
            raise ProtocolMismatch(
                f"{len(self._script) - self._index} exchange(s) unused, "
                f"next {self._script[self._index]!r}"
            )
        if self._sent:
            raise ProtocolMismatch(f"unexpected bytes sent: {bytes(self._sent)!r}")
        if self._replies:
            raise ProtocolMismatch(f"reply bytes never read: {bytes(self._replies)!r}")
