"""Domain errors; ``api.errors`` maps each to one HTTP status, in one place."""

from __future__ import annotations

from daq.hardware.errors import ValueRefused


class UnknownInstrument(LookupError):  # noqa: N818 - reads as the event it names
    def __init__(self, name: str, kind: str, known: list[str]) -> None:
        listing = ", ".join(known) or "none configured"
        super().__init__(f"no {kind} named {name!r} (known: {listing})")


class UnknownReading(ValueRefused):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"no reading named {name!r} (known: {', '.join(known)})")


class SafetyRefused(Exception):  # noqa: N818
    """Refused by the safety policy (interlock, missing confirmation)."""


class NotFound(LookupError):  # noqa: N818
    """No acquisition or scan with that id."""


class Conflict(Exception):  # noqa: N818
    """The request clashes with what is running (a scan already moves that stage)."""
