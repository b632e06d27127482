"""What the routers share: settings, the IPC client, the catalogue, the command token."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from dome.config import DomeSettings
from dome.control.ipc import AsyncIpcClient
from dome.core.catalogue import Catalogue


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

_bearer = HTTPBearer(auto_error=False, description="The command token (DOME_API_TOKEN)")
_header = APIKeyHeader(name="X-API-Token", auto_error=False)


def _check_token(
    state: AppState,
    bearer: HTTPAuthorizationCredentials | None,
    header: str | None,
) -> None:
    expected = state.settings.api_token
    given = bearer.credentials if bearer is not None else header
    if expected is None:
        raise HTTPException(503, "commands are disabled: DOME_API_TOKEN is not set")
    if not given:
        raise HTTPException(401, "a command token is required (Authorization: Bearer TOKEN)")
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(403, "wrong command token")


def require_token(
    state: State,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> None:
    _check_token(state, bearer, header)


def require_read(
    state: State,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> None:
    if not state.settings.open_reads:
        _check_token(state, bearer, header)


Command = Depends(require_token)
Read = Depends(require_read)
