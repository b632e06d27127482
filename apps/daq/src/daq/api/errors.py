"""The one place where domain errors become HTTP statuses; the body names the problem."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from daq.core.errors import Conflict, NotFound, SafetyRefused, UnknownInstrument
from daq.hardware.errors import (
    BadReply,
    Disconnected,
    InstrumentError,
    NotReady,
    TransportError,
    ValueRefused,
)

STATUS: list[tuple[type[Exception], int]] = [
    (UnknownInstrument, 404),
    (NotFound, 404),
    (ValueRefused, 422),
    (SafetyRefused, 403),
    (Conflict, 409),
    (NotReady, 409),
    (Disconnected, 503),
    (TransportError, 504),
    (InstrumentError, 502),
    (BadReply, 502),
]


def install_error_handlers(app: FastAPI) -> None:
    for exc_type, status in STATUS:

        async def handler(request: Request, exc: Exception, status: int = status) -> JSONResponse:
            return JSONResponse({"detail": str(exc).strip("'\"")}, status_code=status)

        app.add_exception_handler(exc_type, handler)
