"""/docs in a real headless Chromium (Debian's) with every request that is not to the app
refused: Swagger UI must still render the operations, and must not even try the network."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi import Depends, FastAPI
from playwright.sync_api import Browser, Route, expect
from pydantic import BaseModel

from labkit.auth import TokenAuth
from labkit.docs import install_offline_docs
from labkit.errors import install_error_handlers
from labkit.testing import ServerThread, chromium

pytestmark = [pytest.mark.browser, pytest.mark.integration]


class Goto(BaseModel):
    azimuth: float


def make_app() -> FastAPI:
    app = FastAPI(title="Offline docs check")
    install_error_handlers(app)
    auth = TokenAuth(lambda conn: "t", setting="CHECK_TOKEN")

    @app.get("/status", operation_id="get_status", summary="Read the status")
    def status() -> dict[str, str]:
        return {"state": "idle"}

    @app.post(
        "/goto",
        operation_id="goto",
        summary="Turn to an azimuth",
        dependencies=[Depends(auth.require)],
    )
    def goto(body: Goto) -> Goto:
        return body

    install_offline_docs(app)
    return app


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread(make_app()) as running:
        yield running


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("/docs", ".opblock-summary-path"),
        ("/redoc", "h2"),  # ReDoc: one heading per operation
    ],
)
def test_docs_render_with_the_network_cut_off(
    browser: Browser, server: ServerThread, path: str, rendered: str
) -> None:
    refused: list[str] = []
    loaded: list[str] = []

    def only_the_app(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in {"127.0.0.1", "localhost"}:
            loaded.append(route.request.url)
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context = browser.new_context()
    context.route("**/*", only_the_app)
    page = context.new_page()
    errors: list[str] = []
    blocked: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    try:
        page.goto(server.url + path)
        operations = page.locator(rendered)
        expect(operations).to_have_count(2, timeout=20_000)
        if path == "/docs":
            expect(operations.nth(0)).to_contain_text("/status")
            expect(operations.nth(1)).to_contain_text("/goto")
            expect(page.locator(".opblock-summary-description").nth(1)).to_have_text(
                "Turn to an azimuth"
            )
            expect(page.locator(".btn.authorize")).to_be_visible()  # the token schemes
        else:
            expect(operations).to_have_text(["Read the status", "Turn to an azimuth"])
        page.wait_for_load_state("networkidle")
    finally:
        context.close()
    assert refused == []  # no request left for the internet
    assert errors == []
    if path == "/redoc":
        # ReDoc's menu always shows Redocly's logo from their CDN; our policy stopped it
        assert len(blocked) == 1
        assert "https://cdn.redoc.ly/redoc/logo-mini.svg" in blocked[0]
    else:
        assert blocked == []
    assert any(url.endswith("/openapi.json") for url in loaded), loaded
