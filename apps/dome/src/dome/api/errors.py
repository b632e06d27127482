"""The one place that maps domain errors to HTTP (the native API) and request validation
errors to a readable one-line ``error`` naming the field."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from dome.core import errors

HTTP_STATUS: dict[type[errors.DomeError], int] = {
    errors.InvalidValueError: 422,
    errors.UnknownTargetError: 404,
    errors.BelowHorizonError: 409,
    errors.ParkedError: 409,
    errors.InvalidStateError: 409,
    errors.FaultedError: 409,
    errors.NotConnectedError: 503,
}


def status_for(exc: errors.DomeError) -> int:
    for kind in type(exc).__mro__:
        if kind in HTTP_STATUS:
            return HTTP_STATUS[kind]
    return 409


def describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc) or "request"
        parts.append(f"{where}: {err.get('msg')}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.DomeError)
    async def dome_error(request: Request, exc: errors.DomeError) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc), "kind": type(exc).__name__}, status_code=status_for(exc)
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse({"error": describe_validation(exc), "detail": detail}, status_code=422)
