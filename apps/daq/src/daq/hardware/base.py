"""What every line-oriented driver shares: encode, terminate, hold the port lock."""

from __future__ import annotations

from daq.hardware.errors import BadReply
from daq.hardware.transport import Transport


class LineInstrument:
    write_terminator = b"\n"
    read_terminator = b"\n"

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def template_fields(self) -> dict[str, object]:
        return {}

    def _encode(self, command: str) -> bytes:
        try:
            return command.encode("ascii") + self.write_terminator
        except UnicodeEncodeError:
            raise BadReply(f"command {command!r} is not ASCII") from None

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("ascii").strip()
        except UnicodeDecodeError:
            self.transport.discard_input()
            raise BadReply(f"reply is not ASCII: {raw!r}") from None

    def ask(self, command: str, timeout: float | None = None) -> str:
        """Send a query and return its reply line, holding the port for both."""
        with self.transport.lock:
            self.transport.write(self._encode(command))
            return self._decode(self.transport.read_until(self.read_terminator, timeout))

    def send(self, command: str) -> None:
        """Send a command that the instrument does not answer."""
        with self.transport.lock:
            self.transport.write(self._encode(command))
