"""One error body for every app: RFC 9457 problem details (``application/problem+json``).

Every error an app answers, whatever raised it, has this shape::

    {"type": "about:blank", "title": "Conflict", "status": 409,
     "detail": "the dome is parked: unpark first", "code": "parked"}

``detail`` is the sentence for a person; ``code`` the stable word for a program. A request
that fails validation (422) adds ``errors``, one entry per bad field, naming the field and
what is allowed::

    {..., "status": 422, "code": "invalid_request",
     "detail": "azimuth: Input should be less than 360",
     "errors": [{"field": "azimuth", "location": "body", "type": "less_than",
                 "message": "Input should be less than 360", "allowed": {"lt": 360}}]}

Why RFC 9457 and not a shape of our own: it is the standard one, clients and tools know it,
and its ``detail`` string is where FastAPI's own ``HTTPException(detail=...)`` puts the
message, so clients that read ``detail`` keep working. The value sent is never echoed back
(it may be a secret).

An app calls :func:`install_error_handlers` once with its domain exceptions mapped to a
status and a code; routes raise domain exceptions or :class:`HTTPProblem`, nothing else. For
a FastAPI app the OpenAPI schema declares the problem body on every operation (its 4xx/5xx
responses and ``default``; 401/403/503 where the operation has a security requirement), so
schema-driven tests (schemathesis) check error bodies too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from labkit.logs import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
INVALID_REQUEST = "invalid_request"
INTERNAL_ERROR = "internal_error"

ErrorMap = Mapping[type[Exception], tuple[int, str]]
"""Domain exception class -> (HTTP status, code). A subclass not listed takes its nearest
listed base's entry."""


class FieldError(BaseModel):
    """One bad part of a request."""

    field: str = Field(description="Dotted path inside its location: `azimuth`, `points.2`")
    location: str = Field(description="`body`, `query`, `path`, `header` or `cookie`")
    type: str = Field(description="pydantic's error type: `less_than`, `missing`, ...")
    message: str = Field(description="What is wrong and what is allowed, for a person")
    allowed: dict[str, Any] | None = Field(
        default=None, description='The limits that were broken, e.g. `{"lt": 360}`'
    )


class Problem(BaseModel):
    """An error, as RFC 9457 problem details with a stable `code`."""

    type: str = Field(default="about:blank", description="RFC 9457: always `about:blank` here")
    title: str = Field(description="The HTTP status phrase")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong, for a person")
    code: str = Field(description="What went wrong, for a program: stable, snake_case")
    errors: list[FieldError] | None = Field(
        default=None, description="Validation errors (422 only), one per bad field"
    )


class HTTPProblem(HTTPException):
    """An ``HTTPException`` with a code: ``raise HTTPProblem(409, "busy", code="busy")``."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, detail, headers=dict(headers) if headers else None)
        self.code = code or default_code(status_code)


def default_code(status: int) -> str:
    """The code of a status without a more specific one: 404 -> ``not_found``."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    status: int,
    detail: str,
    code: str | None = None,
    *,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The problem body as a response: for routes that answer an error themselves."""
    body = Problem(
        title=_title(status),
        status=status,
        detail=detail,
        code=code or default_code(status),
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        headers=dict(headers) if headers else None,
        media_type=PROBLEM_JSON,
    )


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def field_errors(exc: RequestValidationError) -> list[FieldError]:
    """pydantic's errors as :class:`FieldError`: the location split from the field, the
    limits (``ctx``) kept, the input dropped."""
    found = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        location = loc[0] if loc and loc[0] in {"body", "query", "path", "header", "cookie"} else ""
        rest = loc[1:] if location else loc
        message = str(err.get("msg", "invalid"))
        ctx = dict(err.get("ctx") or {})
        kind = str(err.get("type", "invalid"))
        if kind == "json_invalid":
            # loc is ("body", character offset): the offset is not a field
            rest = []
            message = f"not valid JSON: {ctx.pop('error', 'decode error')}"
        # a custom validator's exception is already in the message
        ctx.pop("error", None)
        found.append(
            FieldError(
                field=".".join(rest) or location or "request",
                location=location or "request",
                type=kind,
                message=message,
                allowed={key: _jsonable(value) for key, value in ctx.items()} or None,
            )
        )
    return found


def _message(exc: BaseException) -> str:
    # str(KeyError("x")) is "'x'": a lookup error's message is its argument
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


def _domain_handler(status: int, code: str) -> Callable[[Request, Exception], Response]:
    def handle(request: Request, exc: Exception) -> Response:
        return problem_response(status, _message(exc), code)

    return handle


def install_error_handlers(app: Starlette, domain_errors: ErrorMap | None = None) -> None:
    """Answer every error of ``app`` with a problem body.

    - ``domain_errors``: the app's own exception classes, each to ``(status, code)``; the
      exception's message becomes ``detail``. The one place an app maps its domain errors.
    - ``HTTPException`` (Starlette's and FastAPI's; :class:`HTTPProblem` for a code), and the
      router's own 404 and 405.
    - request validation (FastAPI): 422, ``code: invalid_request``, one ``errors`` entry per
      bad field; ``detail`` lists them on one line.
    - anything else: 500, ``code: internal_error``, with no detail of the failure in the
      body; the traceback goes to the log.
    """
    for exc_class, (status, code) in (domain_errors or {}).items():
        app.add_exception_handler(exc_class, _domain_handler(status, code))

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = getattr(exc, "code", None) or default_code(exc.status_code)
        return problem_response(exc.status_code, str(exc.detail), code, headers=exc.headers)

    def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = field_errors(exc)
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "invalid request"
        return problem_response(422, detail, INVALID_REQUEST, errors=errors)

    def crashed(request: Request, exc: Exception) -> Response:
        # Starlette's ServerErrorMiddleware calls this, sends the answer, then re-raises so
        # the server logs the traceback: nothing about the failure leaks to the client.
        return problem_response(500, "internal error: see the service's log", INTERNAL_ERROR)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, crashed)
    if isinstance(app, FastAPI):
        _declare_in_openapi(app, sorted({status for status, _ in (domain_errors or {}).values()}))


# OpenAPI ------------------------------------------------------------------------------------

_REF = "#/components/schemas/{model}"
_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": _REF.format(model="Problem")}}}
_AUTH_RESPONSES = {
    "401": "No token given (`WWW-Authenticate: Bearer`)",
    "403": "Wrong token",
    "503": "The service has no token configured: what needs one is disabled",
}
_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def problem_responses(descriptions: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: each status documented as a problem body."""
    # the content (a Problem under application/problem+json) is filled in with the rest of
    # the schema by install_error_handlers
    return {status: {"description": text} for status, text in descriptions.items()}


def _declare_in_openapi(app: FastAPI, domain_statuses: list[int]) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        declare_problems(schema, domain_statuses)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def declare_problems(schema: dict[str, Any], domain_statuses: list[int] | None = None) -> None:
    """Rewrite an OpenAPI document so every error response is a :class:`Problem`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    default_text = "An error, as RFC 9457 problem details"
    if domain_statuses:
        default_text += f" (the app's own errors answer {', '.join(map(str, domain_statuses))})"
    problem = Problem.model_json_schema(ref_template=_REF)
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status == "default" or int(status) >= 400:
                    response["content"] = dict(_PROBLEM_CONTENT)
                if status == "422" and response.get("description") == "Validation Error":
                    response["description"] = "Invalid request: `errors` names each bad field"
            if operation.get("security"):
                for status, text in _AUTH_RESPONSES.items():
                    responses.setdefault(status, {"description": text})
                    responses[status]["content"] = dict(_PROBLEM_CONTENT)
            responses.setdefault(
                "default", {"description": default_text, "content": dict(_PROBLEM_CONTENT)}
            )
    # FastAPI's own 422 body no longer exists: drop its schemas if nothing refers to them
    text = json.dumps(schema.get("paths", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        if name in components and _REF.format(model=name) not in text:
            del components[name]
