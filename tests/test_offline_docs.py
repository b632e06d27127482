"""Every FastAPI app of the lab serves /docs and /redoc without internet (labkit.docs) and
answers errors with labkit's problem body; built in-process from each app's own factory."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[1]


def dome_app() -> FastAPI:
    from dome.api.app import create_app
    from dome.config import DomeSettings

    settings = DomeSettings(api_token="t" * 20, socket_path=Path("/nonexistent/control.sock"))
    return create_app(settings, simulated=True)


def daq_app(tmp_path: Path) -> FastAPI:
    from daq.api.app import create_app
    from daq.assembly import build_lab
    from daq.config import DaqSettings

    lab = build_lab(DaqSettings(api_token="t" * 20, data_dir=tmp_path))
    return create_app(lab, "t" * 20, manage_lab=False)


def get(app: FastAPI, path: str) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get(path)

    return asyncio.run(run())


@pytest.mark.parametrize("name", ["dome", "daq"])
def test_docs_pages_load_nothing_from_outside(name: str, tmp_path: Path) -> None:
    app = dome_app() if name == "dome" else daq_app(tmp_path)
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = get(app, page).text
        assert f'"/docs-assets/{asset}"' in html
        assert re.findall(r"(?:https?:)?//[\w.-]+\.\w+", html) == [], (name, page)
        assert get(app, f"/docs-assets/{asset}").status_code == 200
    assert "Problem" in app.openapi()["components"]["schemas"]
    missing = get(app, "/no/such/page")
    assert missing.headers["content-type"] == "application/problem+json"


def test_every_fastapi_app_in_the_repository_installs_the_offline_docs() -> None:
    """A new app that builds a FastAPI() must call labkit.docs.install_offline_docs in the
    same module (FastAPI's default pages are blank offline)."""
    builders = [
        path
        for path in sorted((ROOT / "apps").glob("*/src/**/*.py"))
        if re.search(r"\bFastAPI\(", path.read_text())
    ]
    assert builders, "no FastAPI app found: the scan is broken"
    without = [
        str(p.relative_to(ROOT)) for p in builders if "install_offline_docs(" not in p.read_text()
    ]
    assert without == []
