"""What the domain refuses, by name. The API maps each to one HTTP status and one Alpaca
error number, in one place."""

from __future__ import annotations


class DomeError(Exception):
    """Base: a command the dome will not carry out; the message says why."""


class InvalidValueError(DomeError):
    """A value out of range or of the wrong kind."""


class ParkedError(DomeError):
    """The dome is parked: unpark (or find home) first."""


class InvalidStateError(DomeError):
    """Not possible in the current state (e.g. sync while slewing)."""


class FaultedError(DomeError):
    """The dome is in fault; clear the fault first."""


class UnknownTargetError(DomeError):
    """No object of that name in the catalogue, the cache or SIMBAD."""


class BelowHorizonError(DomeError):
    """The target is below the altitude limit now."""


class NotConnectedError(DomeError):
    """The control process cannot be reached."""


class NotImplementedByDomeError(DomeError):
    """This dome has no such part (a shutter, a telescope to follow)."""


class UnsafeError(DomeError):
    """The weather/safety source says unsafe (or cannot be read): the shutter stays shut."""
