"""The one place that maps domain errors to HTTP (the native API): each to a status and a
stable code. The body is labkit's problem details, like every other error of every app."""

from __future__ import annotations

from fastapi import FastAPI

from dome.core import errors
from labkit.errors import ErrorMap, install_error_handlers

HTTP_ERRORS: ErrorMap = {
    errors.DomeError: (409, "refused"),  # any other DomeError
    errors.InvalidValueError: (422, "invalid_value"),
    errors.UnknownTargetError: (404, "unknown_target"),
    errors.BelowHorizonError: (409, "below_horizon"),
    errors.ParkedError: (409, "parked"),
    errors.InvalidStateError: (409, "invalid_state"),
    errors.FaultedError: (409, "faulted"),
    errors.NotConnectedError: (503, "control_unreachable"),
    errors.UnsafeError: (409, "unsafe"),
    errors.NotImplementedByDomeError: (409, "not_fitted"),
}


def install(app: FastAPI) -> None:
    install_error_handlers(app, HTTP_ERRORS)
