"""The read-only token (DOME_API_READ_TOKEN) through the real processes (``dome serve
--sim`` with a simulated GPIO shutter), over HTTP: it reads everything a watcher needs,
and every command refuses it before the control process is asked, so nothing moves."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from .conftest import DomeServer, start_server, stop_server

pytestmark = pytest.mark.integration
READ_TOKEN = "read-only-token-not-secret"

COMMANDS = [
    ("POST", "/api/dome/goto", {"azimuth": 200.0}),
    ("POST", "/api/dome/jog", {"degrees": 30.0}),
    ("POST", "/api/dome/shutter/open", None),
    ("POST", "/api/dome/home", None),
    ("POST", "/api/dome/park", None),
    ("POST", "/api/dome/sync", {"azimuth": 90.0}),
    ("PUT", "/api/dome/park-position", {"azimuth": 45.0}),
    ("POST", "/api/tracking/start", {"ra_deg": 10.0, "dec_deg": 20.0}),
    ("POST", "/api/dome/sim/faults", {"rain": True}),
]


@pytest.fixture(scope="module")
def server() -> Iterator[DomeServer]:
    s = start_server(
        {
            "DOME_API_READ_TOKEN": READ_TOKEN,
            "DOME_OPEN_READS": "false",
            "DOME_SHUTTER": "gpio",
            "DOME_SHUTTER_TRAVEL_TIMEOUT_S": "15",
        }
    )
    yield s
    stop_server(s)


def test_the_read_token_reads_status_history_and_the_live_stream(server: DomeServer) -> None:
    with server.client(None) as anonymous:
        assert anonymous.get("/api/dome/status").status_code == 401  # reads are closed
    with server.client(READ_TOKEN) as c:
        status = c.get("/api/dome/status")
        assert status.status_code == 200, status.text
        assert status.json()["shutter"]["state"] == "closed"
        for path in ("/api/sessions", "/api/tracking"):
            assert c.get(path).status_code == 200, path
        ticket = c.post("/api/stream-ticket")
        assert ticket.status_code == 200, ticket.text
    params = {"ticket": ticket.json()["ticket"]}
    with httpx.stream("GET", f"{server.url}/api/events", params=params, timeout=10) as events:
        assert events.status_code == 200
        first = next(events.iter_lines())
    assert first.startswith(("data:", "event:", ":", "retry:")), first


@pytest.mark.parametrize(("method", "path", "body"), COMMANDS)
def test_every_command_refuses_the_read_token_and_nothing_moves(
    server: DomeServer, method: str, path: str, body: dict[str, object] | None
) -> None:
    server.idle()
    # the simulated hardware at rest: motor steps, drive, shutter relays and position,
    # rain and faults; none of it may change
    before_sim, before = server.sim(), server.status()
    with server.client(READ_TOKEN) as c:
        r = c.request(method, path, json=body)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["code"] == "token_read_only"
    assert "read-only token" in problem["detail"]
    assert "DOME_API_TOKEN" in problem["detail"]
    time.sleep(0.3)
    after = server.status()
    assert server.sim() == before_sim
    assert after["state"] == "idle"
    assert after["shutter"]["state"] == before["shutter"]["state"] == "closed"
    assert after["park_deg"] == before["park_deg"]
    assert after["tracking"] == before["tracking"]


def test_the_command_token_still_commands(server: DomeServer) -> None:
    """The same request with DOME_API_TOKEN moves the dome: the refusals above are the
    read token's, not a dome that cannot move."""
    server.idle()
    before = server.sim()["emitted_steps"]
    with server.client() as c:
        r = c.post("/api/dome/jog", json={"degrees": 5.0})
        assert r.status_code == 200, r.text
    server.wait(lambda: server.sim()["emitted_steps"] != before, 10)
    server.idle()
