"""The live page (``/``) and its files (``/static``), served from the installed package:
no CDN, so it works in a lab with no internet. The page asks for the token and keeps it in
the browser's session storage; its stream uses a short-lived ticket."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)
STATIC = resources.files("daq.static")


@router.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    return HTMLResponse(STATIC.joinpath("index.html").read_text(encoding="utf-8"))


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(STATIC))
