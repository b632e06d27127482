"""/docs and /redoc reference nothing outside the app, and the files they load are served
from the installed package."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from labkit.docs import ASSET_FILES, install_offline_docs


def make_app(**kwargs: Any) -> FastAPI:
    app = FastAPI(title="Little app", **kwargs)

    @app.get("/things", operation_id="list_things")
    def things() -> list[str]:
        return []

    install_offline_docs(app)
    return app


def get(app: FastAPI, path: str, root_path: str = "") -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, root_path=root_path)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(run())


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in {"src", "href"} and value]


def references(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize(
    ("path", "asset"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]
)
def test_the_pages_reference_no_external_url(path: str, asset: str) -> None:
    html = get(make_app(), path).text
    urls = references(html)
    assert f"/docs-assets/{asset}" in urls
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    # nor anywhere else in the page (inline script, a font link)
    assert re.findall(r"(?:https?:)?//[\w.-]+\.\w+", html) == []
    assert "cdn" not in html.lower()


def test_swagger_ui_validator_badge_is_off() -> None:
    assert '"validatorUrl": null' in get(make_app(), "/docs").text


@pytest.mark.parametrize("name", ASSET_FILES)
def test_every_asset_is_served_from_the_package(name: str) -> None:
    r = get(make_app(), f"/docs-assets/{name}")
    assert r.status_code == 200
    assert len(r.content) > 4000
    kind = {"js": "javascript", "css": "text/css", "png": "image/png"}[name.rsplit(".", 1)[1]]
    assert kind in r.headers["content-type"]


def test_the_swagger_bundle_is_the_pinned_version() -> None:
    assert 'PACKAGE_VERSION:"5.32.6"' in get(make_app(), "/docs-assets/swagger-ui-bundle.js").text


def test_pages_switched_off_on_the_app_stay_off_and_the_schema_is_untouched() -> None:
    app = make_app(redoc_url=None)
    assert get(app, "/redoc").status_code == 404
    assert get(app, "/docs").status_code == 200
    assert "/docs-assets" not in str(app.openapi()["paths"])
    assert list(app.openapi()["paths"]) == ["/things"]


def test_a_root_path_prefixes_every_url() -> None:
    """Behind a reverse proxy that mounts the app under a prefix."""
    html = get(make_app(), "/docs", root_path="/dome").text
    assert "/dome/docs-assets/swagger-ui.css" in references(html)
    assert "url: '/dome/openapi.json'" in html


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_pages_allow_only_this_origin(path: str) -> None:
    policy = get(make_app(), path).headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "img-src 'self' data:" in policy
    assert "http" not in policy
