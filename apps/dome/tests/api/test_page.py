"""The operator's page in a real headless Chromium (Debian's), against the real processes."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from labkit.testing import chromium
from tests.conftest import TOKEN, DomeServer

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser, dome_server: DomeServer) -> Iterator[Page]:
    context = browser.new_context()
    pg = context.new_page()
    pg.goto(dome_server.url + "/")
    pg.fill("#token", TOKEN)
    pg.dispatch_event("#token", "change")
    yield pg
    context.close()


def azimuth_on_page(page: Page) -> float:
    return float(page.inner_text("#azimuth"))


def test_live_azimuth_is_pushed_while_the_dome_turns(page: Page, dome_server: DomeServer) -> None:
    expect(page.locator("#state")).to_have_text("idle", timeout=10_000)
    page.fill("#goto-az", "100")
    page.click("#goto")
    expect(page.locator("#state")).to_have_text("slewing", timeout=5_000)
    seen = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen.add(page.inner_text("#azimuth"))
        if page.inner_text("#state") == "idle":
            break
        time.sleep(0.1)
    assert len(seen) > 3  # intermediate positions arrived without reloading
    expect(page.locator("#state")).to_have_text("idle", timeout=30_000)
    assert abs(azimuth_on_page(page) - 100.0) <= 0.4


def test_jog_stop_and_a_refused_command_shows_why(page: Page, dome_server: DomeServer) -> None:
    expect(page.locator("#state")).to_have_text("idle", timeout=10_000)
    before = dome_server.sim()["emitted_steps"]
    page.fill("#goto-az", "400")
    page.click("#goto")
    expect(page.locator("#message")).to_contain_text("azimuth", timeout=5_000)
    assert dome_server.sim()["emitted_steps"] == before
    page.click("#jog-plus")
    expect(page.locator("#state")).to_have_text("slewing", timeout=5_000)
    page.click("#stop")
    expect(page.locator("#state")).to_have_text("idle", timeout=10_000)
    expect(page.locator("#outcome")).to_contain_text(re.compile("jog: (stopped|arrived)"))


def test_search_and_track_an_object(page: Page, dome_server: DomeServer) -> None:
    page.fill("#query", "polaris")
    page.click("#search")
    button = page.locator("#results button[data-name='Polaris']")
    expect(button).to_be_visible(timeout=5_000)
    button.click()
    expect(page.locator("#state")).to_have_text("tracking", timeout=10_000)
    expect(page.locator("#tracking")).to_contain_text("Polaris")
    page.click("#stop")
    expect(page.locator("#state")).to_have_text(re.compile("idle|slewing"), timeout=10_000)
    dome_server.idle()
