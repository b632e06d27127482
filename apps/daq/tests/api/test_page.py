"""The live page in Debian's headless Chromium (Playwright) against the daemon on the
simulated lab: status, a reading plotted as it is polled, acquisition rows and scan
points plotted as they arrive, and nothing fetched from anywhere but the daemon."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from labkit.testing import chromium

TOKEN = "test-token-0123456789abcdef"  # conftest.TOKEN


def test_vendored_uplot_is_the_npm_release_unchanged() -> None:
    """The hashes recorded in VENDOR.md (from `npm pack uplot@1.6.32`) match the files the
    package serves."""
    vendor = resources.files("daq.static").joinpath("vendor/uplot")
    notes = vendor.joinpath("VENDOR.md").read_text()
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        digest = hashlib.sha256(vendor.joinpath(name).read_bytes()).hexdigest()
        assert f"`{digest}` {name}" in notes.replace("\n  ", " ")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser, daemon: Any) -> Iterator[Page]:
    context = browser.new_context()
    pg = context.new_page()
    pg.requests_seen = []  # type: ignore[attr-defined]
    pg.on("request", lambda request: pg.requests_seen.append(request.url))  # type: ignore[attr-defined]
    pg.goto(daemon.url + "/")
    pg.fill("#token", TOKEN)
    pg.dispatch_event("#token", "change")
    yield pg
    context.close()


@pytest.mark.browser
@pytest.mark.integration
def test_status_and_a_live_reading_plot(page: Page, daemon: Any) -> None:
    for name in ("stage", "meter", "laser", "mounts"):
        expect(page.locator(f"#instruments tr[data-name='{name}'] td.up")).to_have_text(
            "up", timeout=10_000
        )
    expect(page.locator("#connection")).to_have_text("live", timeout=10_000)
    page.select_option("#reading", "stage.axis1.position")
    page.click("#poll-start")
    expect(page.locator("#latest")).to_have_text(
        re.compile(r"^-?[0-9.]+(e[+-]?\d+)?$"), timeout=5_000
    )
    expect(page.locator("#reading-chart canvas")).to_be_visible()
    page.click("#poll-stop")
    origin = daemon.url
    seen = page.requests_seen  # type: ignore[attr-defined]
    assert seen
    assert all(url.startswith((origin, origin.replace("http", "ws"))) for url in seen), [
        u for u in seen if not u.startswith(origin)
    ]


@pytest.mark.browser
@pytest.mark.integration
def test_acquisition_and_scan_are_plotted_as_they_arrive(page: Page, daemon: Any) -> None:
    expect(page.locator("#connection")).to_have_text("live", timeout=10_000)
    c = daemon.client
    acq = c.post("/api/acquisitions", json={"readings": ["stage.axis1.position"], "rate_hz": 10})
    ident = acq.json()["id"]
    expect(page.locator("#stream-job")).to_have_text(ident, timeout=10_000)
    expect(page.locator("#stream-chart")).to_have_attribute(
        "data-points", re.compile(r"^([4-9]|\d\d+)$"), timeout=10_000
    )
    c.post(f"/api/acquisitions/{ident}/stop")
    expect(page.locator(f"#jobs tr[data-id='{ident}']")).to_contain_text("stopped", timeout=5_000)
    scan = c.post(
        "/api/scans",
        json={
            "actuator": {"type": "mount", "name": "mount1"},
            "points": [0, 10, 20, 30],
            "readings": ["mount1.angle"],
        },
    ).json()
    expect(page.locator("#stream-job")).to_have_text(scan["id"], timeout=10_000)
    expect(page.locator("#stream-chart")).to_have_attribute("data-points", "4", timeout=10_000)


@pytest.mark.browser
@pytest.mark.integration
def test_a_wrong_token_is_shown(browser: Browser, daemon: Any) -> None:
    pg = browser.new_page()
    pg.goto(daemon.url + "/")
    pg.fill("#token", "wrong-token-000000000000")
    pg.dispatch_event("#token", "change")
    expect(pg.locator("#message")).to_contain_text(re.compile("token", re.I), timeout=5_000)
    pg.close()
