"""The one place where domain errors become HTTP statuses; the body names the problem."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from daq.core.errors import (
    BadReply,
    Conflict,
    Disconnected,
    InstrumentDown,
    InstrumentError,
    InstrumentFault,
    NotFound,
    NotReady,
    OutcomeUnknown,
    ReplyTimeout,
    SafetyRefused,
    StorageError,
    UnknownInstrument,
    ValueRefused,
)

STATUS: list[tuple[type[Exception], int]] = [
    (UnknownInstrument, 404),
    (NotFound, 404),
    (ValueRefused, 422),
    (SafetyRefused, 403),
    (Conflict, 409),
    (NotReady, 409),
    (StorageError, 507),
    (Disconnected, 503),
    (InstrumentDown, 503),
    (ReplyTimeout, 504),
    (OutcomeUnknown, 504),
    (InstrumentError, 502),
    (BadReply, 502),
    (InstrumentFault, 502),
]


class ErrorBody(BaseModel):
    detail: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in [
        (401, "Missing or wrong token"),
        (403, "Refused by the safety policy"),
        (404, "No such instrument, acquisition or scan"),
        (409, "Conflicts with what is running, or the instrument is not ready"),
        (502, "The instrument reported an error or answered nonsense"),
        (503, "The instrument is down: its port is gone or no good exchange since a failure"),
        (504, "The instrument did not answer in time, or did not confirm a command it was sent"),
        (507, "The data directory cannot take the file"),
    ]
}


def _message(exc: Exception) -> str:
    return str(exc).strip("'\"")


def install_error_handlers(app: FastAPI) -> None:
    for exc_type, status in STATUS:

        async def handler(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            if status == 422:
                # the same shape as FastAPI's own validation errors: one 422 contract
                item = {"loc": ["body"], "msg": _message(exc), "type": "value_error"}
                return JSONResponse({"detail": [item]}, status_code=422)
            return JSONResponse({"detail": _message(exc)}, status_code=status)

        app.add_exception_handler(exc_type, handler)
