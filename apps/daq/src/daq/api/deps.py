"""Dependencies: the lab, and the token every /api route needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from daq.core.lab import Lab
from labkit.auth import TokenAuth


def get_lab(request: Request) -> Lab:
    lab: Lab = request.app.state.lab
    return lab


# labkit's rules, as in every app: 401 missing, 403 wrong, 503 not configured; streams take
# the header or a short-lived ?ticket= (never the token in the URL).
auth = TokenAuth(lambda conn: conn.app.state.token, setting="DAQ_API_TOKEN")
require_token = auth.require

LabDep = Annotated[Lab, Depends(get_lab)]
