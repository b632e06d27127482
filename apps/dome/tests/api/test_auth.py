"""Token rules of the native API, in-process: refusals happen before the control process
is asked anything, so none is needed (and none could move)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from dome.api.app import create_app
from dome.config import DomeSettings


def call(
    settings: dict[str, Any], method: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    async def run() -> httpx.Response:
        app = create_app(DomeSettings(**settings), simulated=True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dome") as c:
            return await c.request(method, path, headers=headers, json={"azimuth": 10.0})

    return asyncio.run(run())


READ = {"api_token": "t", "api_read_token": "r", "open_reads": False}


@pytest.mark.parametrize(
    ("settings", "method", "path", "headers", "code", "says"),
    [
        ({"api_token": "t"}, "POST", "/api/dome/goto", {}, 401, "token is required"),
        ({"api_token": "t"}, "POST", "/api/dome/goto", {"Authorization": "Bearer x"}, 403, "wrong"),
        ({"api_token": "t"}, "POST", "/api/dome/goto", {"X-API-Token": "x"}, 403, "wrong"),
        ({}, "POST", "/api/dome/goto", {"Authorization": "Bearer t"}, 503, "DOME_API_TOKEN"),
        ({"api_token": "t", "open_reads": False}, "GET", "/api/dome/status", {}, 401, "token"),
        ({"api_token": "t", "open_reads": False}, "GET", "/api/sessions", {}, 401, "token"),
        (READ, "POST", "/api/dome/goto", {"Authorization": "Bearer r"}, 403, "read-only token"),
        (READ, "POST", "/api/dome/shutter/open", {"X-API-Token": "r"}, 403, "read-only token"),
        (READ, "POST", "/api/tracking/stop", {"X-API-Token": "r"}, 403, "read-only token"),
        (READ, "GET", "/api/sessions", {"X-API-Token": "x"}, 403, "wrong"),
        # a read token alone: reads work, commands stay disabled
        ({"api_read_token": "r"}, "POST", "/api/dome/goto", {"X-API-Token": "r"}, 503, "DOME_API"),
    ],
)
def test_token_rules(
    settings: dict[str, Any], method: str, path: str, headers: dict[str, str], code: int, says: str
) -> None:
    r = call({"socket_path": "/nonexistent/control.sock", **settings}, method, path, headers)
    assert r.status_code == code
    assert says in r.json()["detail"]


def test_a_good_token_reaches_the_control_process() -> None:
    """With the right token the request gets as far as the (absent) control process."""
    r = call(
        {"api_token": "t", "socket_path": "/nonexistent/control.sock"},
        "POST",
        "/api/dome/goto",
        {"Authorization": "Bearer t"},
    )
    assert r.status_code == 503
    assert "control process unreachable" in r.json()["detail"]
