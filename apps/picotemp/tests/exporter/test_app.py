"""The exporter app in-process (ASGI), reading the simulator over real TCP."""

import asyncio

import httpx
import pytest

from picotemp.exporter.app import Exporter, create_app
from picotemp.exporter.config import ExporterSettings
from picotemp.sim.background import BackgroundSimulator


def settings(url: str) -> ExporterSettings:
    return ExporterSettings.model_validate(
        {"PICO_SERVER_URL": url, "cache_seconds": 0.2, "timeout_seconds": 0.5}
    )


async def scrape(exporter: Exporter, path: str = "/metrics") -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(exporter))
    async with httpx.AsyncClient(transport=transport, base_url="http://exporter") as client:
        return await client.get(path)


def test_metrics_text_changes_exactly_when_the_outcome_does(
    simulator: BackgroundSimulator,
) -> None:
    async def main() -> None:
        exporter = Exporter(settings(simulator.url))
        first = (await scrape(exporter)).text
        version = exporter.metrics_version()
        assert "pico_up 1.0" in first
        assert (await scrape(exporter)).text == first  # within the window: same answer
        assert exporter.metrics_version() == version
        simulator.set_fault("error")
        await asyncio.sleep(0.25)
        second = (await scrape(exporter)).text
        assert exporter.metrics_version() != version
        assert "pico_up 0.0" in second
        assert 'pico_scrape_errors_total{reason="http_status"} 1.0' in second
        assert "pico_temperature" not in second
        await exporter.http.aclose()

    asyncio.run(main())


def test_stale_outcome_changes_the_version_even_without_a_new_request(
    simulator: BackgroundSimulator,
) -> None:
    async def main() -> None:
        exporter = Exporter(settings(simulator.url))
        await exporter.refresh()
        fresh = exporter.metrics_version()
        await asyncio.sleep(0.75)  # past cache (0.2) + timeout (0.5), nobody refreshed
        assert exporter.metrics_version() != fresh
        await exporter.http.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("fault", ["none", "down"])
def test_healthz_is_ok_whatever_the_pico_does(simulator: BackgroundSimulator, fault: str) -> None:
    async def main() -> httpx.Response:
        exporter = Exporter(settings(simulator.url))
        exporter.loop_monitor.start()
        await exporter.refresh()
        response = await scrape(exporter, "/healthz")
        await exporter.loop_monitor.stop()
        await exporter.http.aclose()
        return response

    simulator.set_fault(fault)
    response = asyncio.run(main())
    assert response.status_code == 200
    assert response.json()["pico_up"] is (fault == "none")


def test_unknown_paths_and_methods_answer_the_shared_problem_body(
    simulator: BackgroundSimulator,
) -> None:
    async def main() -> None:
        exporter = Exporter(settings(simulator.url))
        transport = httpx.ASGITransport(app=create_app(exporter))
        async with httpx.AsyncClient(transport=transport, base_url="http://exporter") as client:
            missing = await client.get("/nothing")
            wrong = await client.post("/metrics")
        assert missing.headers["content-type"] == "application/problem+json"
        assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
        assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")
        await exporter.http.aclose()

    asyncio.run(main())
