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


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_app(
    token: str | None = TOKEN, *, open_reads: bool = False, clock: Clock | None = None
) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.token = SecretStr(token) if token is not None else None
    commands = TokenAuth(lambda conn: conn.app.state.token, setting="APP_API_TOKEN")
    reads = TokenAuth(
        lambda conn: conn.app.state.token,
        setting="APP_API_TOKEN",
        required=lambda conn: not open_reads,
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
