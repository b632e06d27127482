"""What the routers share: settings, the IPC client, the catalogue, the command token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from dome.config import DomeSettings
from dome.control.ipc import AsyncIpcClient
from dome.core.catalogue import Catalogue
from labkit.auth import TokenAuth


@dataclass
class AppState:
    settings: DomeSettings
    ipc: AsyncIpcClient
    catalogue: Catalogue
    simulated: bool
    latest_status: dict[str, Any] | None = None
    alpaca_connected: dict[int, bool] = field(default_factory=lambda: {0: False})
    server_transaction: int = 0


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.dome
    return state


State = Annotated[AppState, Depends(get_state)]

# The token rules (401 missing, 403 wrong, 503 not configured) are labkit's, as in every app.
# The read token (DOME_API_READ_TOKEN, optional) opens what Read and ReadStream guard and
# the stream tickets; Command refuses it with 403 token_read_only.
_commands = TokenAuth(
    lambda conn: conn.app.state.dome.settings.api_token,
    setting="DOME_API_TOKEN",
    read_token=lambda conn: conn.app.state.dome.settings.api_read_token,
)
_reads = TokenAuth(
    lambda conn: conn.app.state.dome.settings.api_token,
    setting="DOME_API_TOKEN",
    required=lambda conn: not conn.app.state.dome.settings.open_reads,
    read_token=lambda conn: conn.app.state.dome.settings.api_read_token,
    reads=True,
)

Command = Depends(_commands.require)
Read = Depends(_reads.require)
# Streams a browser opens (the page's live status) cannot send the header: they take a
# short-lived ?ticket= from POST /api/stream-ticket (labkit.auth says why not the token).
ReadStream = Depends(_reads.require_stream)
stream_tickets = _reads.ticket_router("/api/stream-ticket", tags=["page"])
