"""The problem body (RFC 9457) for every kind of error, in-process through httpx's ASGI
transport, and the OpenAPI schema that declares it, checked by schemathesis over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
import pytest
import schemathesis
from fastapi import Depends, FastAPI, HTTPException, Query
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from labkit.auth import TokenAuth
from labkit.errors import PROBLEM_JSON, HTTPProblem, install_error_handlers, problem_responses
from labkit.testing import ServerThread


class DomainError(Exception):
    pass


class ParkedError(DomainError):
    pass


class UnknownThingError(KeyError):
    pass


class Goto(BaseModel):
    azimuth: float = Field(ge=0, lt=360, allow_inf_nan=False)
    speed: float | None = Field(default=None, gt=0, le=10)


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(
        app,
        {
            DomainError: (409, "refused"),
            ParkedError: (409, "parked"),
            UnknownThingError: (404, "unknown_thing"),
        },
    )
    auth = TokenAuth(lambda conn: "secret", setting="TEST_TOKEN")

    @app.post("/goto", operation_id="goto", dependencies=[Depends(auth.require)])
    def goto(body: Goto) -> dict[str, float]:
        if body.azimuth == 13:
            raise ParkedError("the dome is parked: unpark first")
        if body.azimuth == 14:
            raise DomainError("not now")
        return {"azimuth": body.azimuth}

    @app.get(
        "/things/{name}",
        operation_id="get_thing",
        responses=problem_responses({404: "No such thing"}),
    )
    def thing(name: str, limit: Annotated[int, Query(ge=1, le=5)] = 1) -> dict[str, Any]:
        if name != "known":
            raise UnknownThingError(f"no thing named {name!r}")
        return {"name": name, "limit": limit}

    @app.get("/teapot", operation_id="teapot")
    def teapot() -> None:
        raise HTTPProblem(418, "short and stout", code="teapot", headers={"X-Kind": "tea"})

    @app.get("/plain", operation_id="plain")
    def plain() -> None:
        raise HTTPException(409, "busy")

    @app.get("/crash", operation_id="crash", include_in_schema=False)
    def crash() -> None:
        raise RuntimeError("secret internals")

    return app


def request(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(run())


AUTH = {"Authorization": "Bearer secret"}


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def test_a_domain_error_takes_its_mapped_status_and_code_and_its_message() -> None:
    body = problem(
        request(make_app(), "POST", "/goto", json={"azimuth": 13}, headers=AUTH), 409, "parked"
    )
    assert body["detail"] == "the dome is parked: unpark first"
    assert body["title"] == "Conflict"
    assert "errors" not in body


def test_a_subclass_not_listed_takes_its_base_and_the_most_specific_entry_wins() -> None:
    problem(
        request(make_app(), "POST", "/goto", json={"azimuth": 14}, headers=AUTH), 409, "refused"
    )
    body = problem(request(make_app(), "GET", "/things/nope"), 404, "unknown_thing")
    assert body["detail"] == "no thing named 'nope'"  # not the KeyError repr "\"no thing...\""


def test_http_exceptions_keep_their_status_headers_and_get_a_code() -> None:
    teapot = request(make_app(), "GET", "/teapot")
    assert problem(teapot, 418, "teapot")["detail"] == "short and stout"
    assert teapot.headers["X-Kind"] == "tea"
    assert problem(request(make_app(), "GET", "/plain"), 409, "conflict")["detail"] == "busy"
    problem(request(make_app(), "GET", "/no/such/route"), 404, "not_found")
    problem(request(make_app(), "DELETE", "/teapot"), 405, "method_not_allowed")


def test_validation_names_each_bad_field_and_what_is_allowed() -> None:
    r = request(make_app(), "POST", "/goto", json={"azimuth": 400, "speed": 0}, headers=AUTH)
    body = problem(r, 422, "invalid_request")
    errors = {e["field"]: e for e in body["errors"]}
    assert set(errors) == {"azimuth", "speed"}
    assert errors["azimuth"]["location"] == "body"
    assert errors["azimuth"]["type"] == "less_than"
    assert errors["azimuth"]["allowed"] == {"lt": 360.0}
    assert errors["speed"]["allowed"] == {"gt": 0.0}
    assert body["detail"] == (
        "azimuth: Input should be less than 360; speed: Input should be greater than 0"
    )
    assert "400" not in r.text  # the value sent is not echoed


def test_missing_fields_query_limits_and_broken_json_are_named() -> None:
    missing = problem(
        request(make_app(), "POST", "/goto", json={}, headers=AUTH), 422, "invalid_request"
    )
    assert missing["errors"][0]["field"] == "azimuth"
    assert missing["errors"][0]["type"] == "missing"
    query = problem(request(make_app(), "GET", "/things/known?limit=9"), 422, "invalid_request")
    assert query["errors"][0] | {"message": ""} == {
        "field": "limit",
        "location": "query",
        "type": "less_than_equal",
        "message": "",
        "allowed": {"le": 5},
    }
    broken = request(
        make_app(),
        "POST",
        "/goto",
        content=b"not json",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    body = problem(broken, 422, "invalid_request")
    assert body["errors"][0]["field"] == "body"
    assert body["detail"].startswith("body: not valid JSON")


def test_an_unexpected_exception_is_a_500_that_leaks_nothing() -> None:
    r = request(make_app(), "GET", "/crash")
    body = problem(r, 500, "internal_error")
    assert "secret" not in r.text
    assert "RuntimeError" not in r.text
    assert "log" in body["detail"]


def test_a_plain_starlette_app_gets_the_same_bodies() -> None:
    def boom(request: Any) -> PlainTextResponse:
        raise DomainError("refused here")

    app = Starlette(routes=[Route("/boom", boom)])
    install_error_handlers(app, {DomainError: (409, "refused")})
    problem(request(app, "GET", "/nothing"), 404, "not_found")
    assert problem(request(app, "GET", "/boom"), 409, "refused")["detail"] == "refused here"


def test_openapi_declares_the_problem_body_for_every_error() -> None:
    schema = make_app().openapi()
    ref = {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "FieldError" in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for _method, operation in item.items():
            responses = operation["responses"]
            assert responses["default"]["content"] == {PROBLEM_JSON: {"schema": ref}}, path
            for status, response in responses.items():
                if status != "default" and int(status) >= 400:
                    assert response["content"] == {PROBLEM_JSON: {"schema": ref}}, (path, status)
    goto = schema["paths"]["/goto"]["post"]["responses"]
    assert {"401", "403", "422", "503"} <= set(goto)
    assert (
        schema["paths"]["/things/{name}"]["get"]["responses"]["404"]["description"]
        == "No such thing"
    )
    assert "401" not in schema["paths"]["/teapot"]["get"]["responses"]


@pytest.mark.integration
def test_schemathesis_finds_every_error_body_as_declared() -> None:
    """The shapes above, fuzzed: every answer (including 401/403/404/409/422) conforms to
    the operation's declared response schema."""
    with ServerThread(make_app()) as server:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        statuses: set[int] = set()
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(
                case=st.one_of(
                    operation.as_strategy(GenerationMode.POSITIVE),
                    operation.as_strategy(GenerationMode.NEGATIVE),
                )
            )
            @settings(
                max_examples=30,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                response = case.call_and_validate(
                    base_url=server.url,
                    headers=AUTH,
                    checks=[not_a_server_error, response_schema_conformance],
                    timeout=10,
                )
                statuses.add(response.status_code)

            run()
        assert {404, 409, 418, 422} <= statuses, statuses
