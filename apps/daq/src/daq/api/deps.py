"""Dependencies: the lab, and the token every /api route needs."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from daq.core.lab import Lab

_bearer = HTTPBearer(auto_error=False, description="DAQ_API_TOKEN")


def get_lab(request: Request) -> Lab:
    lab: Lab = request.app.state.lab
    return lab


def token_matches(request: Request, presented: str | None) -> bool:
    expected: str = request.app.state.token
    return presented is not None and secrets.compare_digest(presented.encode(), expected.encode())


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    if not token_matches(request, credentials.credentials if credentials else None):
        raise HTTPException(401, "missing or wrong token", headers={"WWW-Authenticate": "Bearer"})


LabDep = Annotated[Lab, Depends(get_lab)]
