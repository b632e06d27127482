"""Split a received byte stream into commands."""

from __future__ import annotations


class LineFramer:
    """Lines ended by any of CR, LF or CR LF (instruments accept all three); empty lines
    are dropped."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[str]:
        self._buffer += data
        lines: list[str] = []
        while True:
            cut = min(
                (i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0),
                default=-1,
            )
            if cut < 0:
                return lines
            raw = bytes(self._buffer[:cut])
            del self._buffer[: cut + 1]
            if raw:
                lines.append(raw.decode("ascii", errors="replace"))
