"""Token rules for commands and streams: in-process for the HTTP rules, over real HTTP and a
real WebSocket (uvicorn on a thread) for the streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.responses import StreamingResponse
from pydantic import SecretStr
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from labkit.auth import TokenAuth, tokens_match
from labkit.errors import PROBLEM_JSON, install_error_handlers
from labkit.testing import ServerThread

TOKEN = "s3cret-token-value"
READ_TOKEN = "read-only-token-value"


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_app(
    token: str | None = TOKEN,
    *,
    open_reads: bool = False,
    clock: Clock | None = None,
    read_token: str | None = None,
) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.token = SecretStr(token) if token is not None else None
    app.state.read_token = SecretStr(read_token) if read_token is not None else None
    commands = TokenAuth(
        lambda conn: conn.app.state.token,
        setting="APP_API_TOKEN",
        read_token=lambda conn: conn.app.state.read_token,
    )
    reads = TokenAuth(
        lambda conn: conn.app.state.token,
        setting="APP_API_TOKEN",
        required=lambda conn: not open_reads,
        read_token=lambda conn: conn.app.state.read_token,
        reads=True,
        clock=clock or Clock(),
    )

    @app.post("/command", dependencies=[Depends(commands.require)])
    def command() -> dict[str, bool]:
        return {"done": True}

    @app.get("/status", dependencies=[Depends(reads.require)])
    def status() -> dict[str, bool]:
        return {"ok": True}

    app.include_router(reads.ticket_router("/stream-ticket"))

    @app.get("/events", dependencies=[Depends(reads.require_stream)])
    async def events() -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            yield "data: hello\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.websocket("/ws", dependencies=[Depends(reads.require_stream)])
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    return app


def call(
    app: FastAPI, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, headers=headers or {})

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("token", "headers", "status", "code"),
    [
        (TOKEN, {}, 401, "token_missing"),
        (TOKEN, {"Authorization": "Bearer nope"}, 403, "token_wrong"),
        (TOKEN, {"X-API-Token": "nope"}, 403, "token_wrong"),
        (TOKEN, {"Authorization": f"Basic {TOKEN}"}, 401, "token_missing"),
        (TOKEN, {"Authorization": f"Bearer {TOKEN}x"}, 403, "token_wrong"),
        (TOKEN, {"Authorization": TOKEN[:-1]}, 401, "token_missing"),
        (None, {"Authorization": f"Bearer {TOKEN}"}, 503, "token_not_configured"),
        (None, {}, 503, "token_not_configured"),
        ("", {"Authorization": "Bearer "}, 503, "token_not_configured"),
    ],
)
def test_refusals(token: str | None, headers: dict[str, str], status: int, code: str) -> None:
    r = call(make_app(token), "POST", "/command", headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    body = r.json()
    assert (body["status"], body["code"]) == (status, code)
    if status == 401:
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert "Authorization: Bearer" in body["detail"]
    if status == 503:
        assert "APP_API_TOKEN" in body["detail"]
    assert TOKEN not in r.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {TOKEN}"},
        {"authorization": f"bearer {TOKEN}"},
        {"X-API-Token": TOKEN},
    ],
)
def test_the_token_is_accepted_in_either_header(headers: dict[str, str]) -> None:
    r = call(make_app(), "POST", "/command", headers)
    assert (r.status_code, r.json()) == (200, {"done": True})


def test_required_false_opens_reads_but_not_commands() -> None:
    app = make_app(open_reads=True)
    assert call(app, "GET", "/status").status_code == 200
    assert call(app, "POST", "/command").status_code == 401
    assert call(make_app(), "GET", "/status").status_code == 401


def test_openapi_documents_both_headers_and_the_refusals() -> None:
    schema = make_app().openapi()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyHeader"]["name"] == "X-API-Token"
    responses = schema["paths"]["/command"]["post"]["responses"]
    assert {"401", "403", "503"} <= set(responses)


def test_tokens_match_compares_secret_and_plain_strings() -> None:
    assert tokens_match("abc", SecretStr("abc"))
    assert tokens_match("abc", "abc")
    assert not tokens_match("abc", "abd")
    assert not tokens_match("ab", "abc")
    assert not tokens_match("", "abc")


# streams ------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> Iterator[ServerThread]:
    with ServerThread(make_app(clock=clock)) as running:
        yield running


def ticket(server: ServerThread) -> str:
    r = httpx.post(f"{server.url}/stream-ticket", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["param"] == "ticket"
    assert TOKEN not in body["ticket"]
    return str(body["ticket"])


def test_a_ticket_needs_the_token(server: ServerThread) -> None:
    assert httpx.post(f"{server.url}/stream-ticket").status_code == 401


def test_event_stream_opens_with_a_ticket_or_the_header_only(
    server: ServerThread, clock: Clock
) -> None:
    good = ticket(server)
    ok = httpx.get(f"{server.url}/events", params={"ticket": good})
    assert (ok.status_code, ok.text) == (200, "data: hello\n\n")
    header = httpx.get(f"{server.url}/events", headers={"X-API-Token": TOKEN})
    assert header.status_code == 200
    assert httpx.get(f"{server.url}/events").json()["code"] == "token_missing"
    # the token itself in the URL is not a way in: URLs end up in logs
    assert httpx.get(f"{server.url}/events", params={"token": TOKEN}).status_code == 401
    forged = good.split(".")[0] + "." + "0" * 64
    for bad in (forged, "garbage", f"{int(clock.now) + 10_000}.{good.split('.')[1]}"):
        r = httpx.get(f"{server.url}/events", params={"ticket": bad})
        assert (r.status_code, r.json()["code"]) == (403, "ticket_wrong"), bad
    clock.now += 61  # the ticket is 60 s old
    expired = httpx.get(f"{server.url}/events", params={"ticket": good})
    assert (expired.status_code, expired.json()["code"]) == (403, "ticket_wrong")


def test_a_ticket_from_another_auth_instance_is_refused(server: ServerThread) -> None:
    other = TokenAuth(lambda conn: TOKEN, setting="X", clock=Clock()).issue_ticket()
    assert httpx.get(f"{server.url}/events", params={"ticket": other.ticket}).status_code == 403


def test_websocket_opens_with_a_ticket_or_header_and_is_refused_otherwise(
    server: ServerThread,
) -> None:
    ws_url = server.url.replace("http", "ws") + "/ws"
    with connect(f"{ws_url}?ticket={ticket(server)}") as ws:
        assert ws.recv(timeout=5) == "hello"
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        assert ws.recv(timeout=5) == "hello"
    for url in (ws_url, f"{ws_url}?ticket=1.2", f"{ws_url}?token={TOKEN}"):
        with pytest.raises(InvalidStatus, match="403"):
            connect(url)


# the read-only token -----------------------------------------------------------------------


@pytest.fixture
def read_server(clock: Clock) -> Iterator[ServerThread]:
    with ServerThread(make_app(clock=clock, read_token=READ_TOKEN)) as running:
        yield running


@pytest.mark.parametrize(
    "headers", [{"Authorization": f"Bearer {READ_TOKEN}"}, {"X-API-Token": READ_TOKEN}]
)
def test_the_read_token_reads_but_commands_are_refused_as_read_only(
    read_server: ServerThread, headers: dict[str, str]
) -> None:
    status = httpx.get(f"{read_server.url}/status", headers=headers)
    assert (status.status_code, status.json()) == (200, {"ok": True})
    r = httpx.post(f"{read_server.url}/command", headers=headers)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    body = r.json()
    assert (body["status"], body["code"]) == (403, "token_read_only")
    assert "read-only token" in body["detail"]
    assert "APP_API_TOKEN" in body["detail"]  # what commands need instead
    assert READ_TOKEN not in r.text
    assert TOKEN not in r.text
    assert "WWW-Authenticate" not in r.headers  # not an invitation to authenticate again


def test_the_main_token_still_does_everything_and_others_are_refused_as_before(
    read_server: ServerThread,
) -> None:
    main = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{read_server.url}/status", headers=main).status_code == 200
    assert httpx.post(f"{read_server.url}/command", headers=main).json() == {"done": True}
    for path, method in (("/status", "GET"), ("/command", "POST")):
        missing = httpx.request(method, f"{read_server.url}{path}")
        assert (missing.status_code, missing.json()["code"]) == (401, "token_missing")
        for wrong in (READ_TOKEN + "x", READ_TOKEN[:-1], "nope"):
            r = httpx.request(method, f"{read_server.url}{path}", headers={"X-API-Token": wrong})
            assert (r.status_code, r.json()["code"]) == (403, "token_wrong"), (path, wrong)


def test_the_read_token_gets_a_stream_ticket_that_opens_streams_only(
    read_server: ServerThread,
) -> None:
    r = httpx.post(
        f"{read_server.url}/stream-ticket", headers={"Authorization": f"Bearer {READ_TOKEN}"}
    )
    assert r.status_code == 200, r.text
    good = r.json()["ticket"]
    assert READ_TOKEN not in good
    events = httpx.get(f"{read_server.url}/events", params={"ticket": good})
    assert (events.status_code, events.text) == (200, "data: hello\n\n")
    header = httpx.get(f"{read_server.url}/events", headers={"X-API-Token": READ_TOKEN})
    assert header.status_code == 200
    ws_url = read_server.url.replace("http", "ws") + "/ws"
    with connect(f"{ws_url}?ticket={good}") as ws:
        assert ws.recv(timeout=5) == "hello"
    # a ticket is not a token: commands do not take it
    command = httpx.post(f"{read_server.url}/command", params={"ticket": good})
    assert command.status_code == 401


def test_without_a_read_token_that_value_is_just_a_wrong_token(server: ServerThread) -> None:
    for method, path in (("GET", "/status"), ("POST", "/command"), ("POST", "/stream-ticket")):
        r = httpx.request(method, f"{server.url}{path}", headers={"X-API-Token": READ_TOKEN})
        assert (r.status_code, r.json()["code"]) == (403, "token_wrong"), path


@pytest.mark.parametrize("token", [None, ""])
def test_a_read_token_alone_opens_reads_and_commands_stay_disabled(token: str | None) -> None:
    app = make_app(token, read_token=READ_TOKEN)
    with ServerThread(app) as running:
        read = {"Authorization": f"Bearer {READ_TOKEN}"}
        assert httpx.get(f"{running.url}/status", headers=read).status_code == 200
        r = httpx.post(f"{running.url}/command", headers=read)
        assert (r.status_code, r.json()["code"]) == (503, "token_not_configured")
        r = httpx.get(f"{running.url}/status", headers={"X-API-Token": "nope"})
        assert (r.status_code, r.json()["code"]) == (403, "token_wrong")


def test_an_empty_read_token_is_no_read_token() -> None:
    """An empty setting (a blank credential file) configures nothing: reads stay disabled
    rather than open to anyone."""
    r = call(make_app(None, read_token=""), "GET", "/status", {"X-API-Token": "anything"})
    assert (r.status_code, r.json()["code"]) == (503, "token_not_configured")
