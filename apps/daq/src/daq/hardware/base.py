"""What every line-oriented driver shares: encode, terminate, hold the port lock, and
never read an answer to the wrong question.

Every transaction starts by draining the input (a late reply, an echo or noise waiting in
the port is dropped, and counted), and a timeout or an unusable reply settles the line
(see :meth:`Transport.settle`) before the error goes up, so the next question starts
clean. Instruments that can echo commands have the echoed line skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from daq.core.errors import BadReply, ReplyTimeout
from daq.hardware.transport import Transport
from labkit.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")


class LineInstrument:
    write_terminator = b"\n"
    read_terminator = b"\n"
    may_echo = False
    """True where the instrument can be set to echo commands: a reply line equal to the
    command just sent is the echo, not the answer."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.stale_bytes = 0
        """Bytes found waiting before a transaction and dropped (late replies, noise)."""

    def template_fields(self) -> dict[str, object]:
        return {}

    def _encode(self, command: str) -> bytes:
        try:
            return command.encode("ascii") + self.write_terminator
        except UnicodeEncodeError:
            raise BadReply(f"command {command!r} is not ASCII") from None

    @staticmethod
    def _decode(raw: bytes) -> str:
        try:
            return raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise BadReply(f"reply is not ASCII: {raw!r}") from None

    def _begin(self) -> None:
        dropped = self.transport.discard_input()
        if dropped:
            self.stale_bytes += dropped
            log.warning(
                "dropped unread input before a command", port=self.transport.name, bytes=dropped
            )

    def _read_line(self, command: str, timeout: float | None) -> str:
        line = self._decode(self.transport.read_until(self.read_terminator, timeout))
        if self.may_echo and line == command:
            line = self._decode(self.transport.read_until(self.read_terminator, timeout))
        return line

    def query(self, command: str, parse: Callable[[str], T], timeout: float | None = None) -> T:
        """Send a query and parse its reply, holding the port for both. A timeout or a reply
        that does not parse settles the line before the error is raised."""
        with self.transport.lock:
            self._begin()
            self.transport.write(self._encode(command))
            try:
                return parse(self._read_line(command, timeout))
            except (ReplyTimeout, BadReply):
                self.transport.settle()
                raise

    def ask(self, command: str, timeout: float | None = None) -> str:
        return self.query(command, str, timeout)

    def send(self, command: str) -> None:
        """Send a command that the instrument does not answer."""
        with self.transport.lock:
            self._begin()
            self.transport.write(self._encode(command))
