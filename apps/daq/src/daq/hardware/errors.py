"""What can go wrong talking to an instrument, named so callers can tell the cases apart."""

from __future__ import annotations


class HardwareError(Exception):
    """Base of every driver and transport error."""


class ValueRefused(HardwareError, ValueError):  # noqa: N818 - reads as the event it names
    """A value was refused before anything was sent: out of range, not a choice, wrong type."""


class TransportError(HardwareError):
    """The link to the instrument failed."""


class Disconnected(TransportError):  # noqa: N818
    """The port is gone (adapter unplugged) or cannot be opened yet."""


class ReplyTimeout(TransportError):  # noqa: N818
    """The instrument did not finish a reply in time (silent or sent a partial line)."""


class BadReply(HardwareError):  # noqa: N818
    """A reply arrived but does not parse as the protocol says it should."""


class InstrumentError(HardwareError):
    """The instrument itself reported an error (error queue, status code)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"error {code}: {message}")
        self.code = code
        self.message = message


class NotReady(HardwareError):  # noqa: N818
    """The instrument cannot do this now (the laser is still warming up, ...)."""
