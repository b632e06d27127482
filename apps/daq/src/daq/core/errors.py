"""Every error the daemon names, defined here in ``core`` so that the drivers (``hardware``)
raise them and the API maps them (``api.errors``) without either depending on the other.

Two families: a request that is refused before anything is sent (:class:`ValueRefused`,
:class:`SafetyRefused`, :class:`Conflict`, ...), and an instrument that could not be
reached or answered wrongly (:class:`InstrumentFault` and its kinds). Only the second
marks an instrument down.
"""

from __future__ import annotations


class DaqError(Exception):
    """Base of every error the daemon raises on purpose."""


# --- refused before anything is sent ---------------------------------------------------


class ValueRefused(DaqError, ValueError):  # noqa: N818 - reads as the event it names
    """A value was refused before anything was sent: out of range, not a choice, wrong type."""


class UnknownReading(ValueRefused):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no reading named {name!r} (known: {', '.join(known)})")


class UnknownInstrument(DaqError, LookupError):  # noqa: N818
    def __init__(self, name: str, kind: str, known: list[str]) -> None:
        listing = ", ".join(known) or "none configured"
        super().__init__(f"no {kind} named {name!r} (known: {listing})")


class NotFound(DaqError, LookupError):  # noqa: N818
    """No acquisition or scan with that id."""


class Conflict(DaqError):  # noqa: N818
    """The request clashes with what is running (a scan already moves that stage)."""


class SafetyRefused(DaqError):  # noqa: N818
    """Refused by the safety policy (interlock, missing confirmation, shutter open)."""


class NotReady(DaqError):  # noqa: N818
    """The instrument cannot do this now (the laser is still warming up, ...)."""


class StorageError(DaqError):
    """The data directory cannot take the file (disk full, not writable)."""


# --- the instrument could not be reached or answered wrongly ---------------------------


class InstrumentFault(DaqError):  # noqa: N818 - a family of faults, not one error
    """Base of every failed exchange with an instrument; the instrument is marked down."""


class TransportError(InstrumentFault):
    """The link to the instrument failed."""


class Disconnected(TransportError):  # noqa: N818
    """The port is gone (adapter unplugged) or cannot be opened yet."""


class ReplyTimeout(TransportError):  # noqa: N818
    """The instrument did not finish a reply in time (silent or sent a partial line)."""


class BadReply(InstrumentFault):
    """A reply arrived but does not parse as the protocol says, or answers another question."""


class InstrumentError(InstrumentFault):
    """The instrument itself reported an error (error queue, status code)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"error {code}: {message}")
        self.code = code
        self.message = message


class InstrumentDown(InstrumentFault):
    """An earlier exchange failed and no good exchange has happened since: no value from
    this instrument is trusted until one does."""


class OutcomeUnknown(InstrumentFault):
    """A command was sent but its effect could not be confirmed: it may or may not have
    happened, so it is neither reported as done nor as failed."""
