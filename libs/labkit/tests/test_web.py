import asyncio

import httpx
from labkit.web import Health, health_route, metrics_route
from prometheus_client import CollectorRegistry, Counter
from starlette.applications import Starlette


def scrape(app: Starlette, path: str, accept: str = "") -> httpx.Response:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get(path, headers={"Accept": accept} if accept else {})

    return asyncio.run(get())


def test_metrics_are_encoded_fresh_on_every_scrape_by_default() -> None:
    registry = CollectorRegistry()
    counter = Counter("things", "Things", registry=registry)
    app = Starlette(routes=[metrics_route(registry)])
    assert "things_total 0.0" in scrape(app, "/metrics").text
    counter.inc()
    assert "things_total 1.0" in scrape(app, "/metrics").text


def test_cache_key_reuses_the_answer_until_the_key_changes() -> None:
    registry = CollectorRegistry()
    counter = Counter("things", "Things", registry=registry)
    key = [1]
    app = Starlette(routes=[metrics_route(registry, cache_key=lambda: key[0])])
    assert "things_total 0.0" in scrape(app, "/metrics").text
    counter.inc()
    assert "things_total 0.0" in scrape(app, "/metrics").text  # same key: same answer
    key[0] = 2
    assert "things_total 1.0" in scrape(app, "/metrics").text


def test_cache_is_per_format() -> None:
    registry = CollectorRegistry()
    Counter("things", "Things", registry=registry)
    app = Starlette(routes=[metrics_route(registry, cache_key=lambda: 1)])
    plain = scrape(app, "/metrics")
    openmetrics = scrape(app, "/metrics", "application/openmetrics-text; version=1.0.0")
    assert plain.headers["content-type"].startswith("text/plain")
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")
    assert not plain.text.endswith("# EOF\n")


def test_health_route_maps_ok_to_200_and_failure_to_503() -> None:
    state = [True]
    app = Starlette(routes=[health_route(lambda: Health(state[0], {"n": 1}))])
    assert scrape(app, "/healthz").json() == {"status": "ok", "n": 1}
    state[0] = False
    response = scrape(app, "/healthz")
    assert (response.status_code, response.json()["status"]) == (503, "fail")
