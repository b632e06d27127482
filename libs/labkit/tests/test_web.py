from prometheus_client import CollectorRegistry, Counter
from starlette.applications import Starlette
from starlette.testclient import TestClient

from labkit.web import Health, health_route, metrics_route


def test_metrics_runs_the_refresh_hook_before_encoding() -> None:
    registry = CollectorRegistry()
    scrapes = Counter("example_refreshes_total", "Refreshes", registry=registry)

    async def refresh() -> None:
        scrapes.inc()

    app = Starlette(routes=[metrics_route(registry, before=refresh)])
    with TestClient(app) as client:
        client.get("/metrics")
        second = client.get("/metrics")
    assert second.status_code == 200
    assert "example_refreshes_total 2.0" in second.text
    assert second.headers["content-type"].startswith("text/plain")


def test_metrics_speaks_openmetrics_when_asked() -> None:
    app = Starlette(routes=[metrics_route(CollectorRegistry())])
    with TestClient(app) as client:
        answer = client.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n")


def test_health_answers_503_with_detail_when_unhealthy() -> None:
    state = {"ok": True}

    async def check() -> Health:
        return Health(ok=state["ok"], detail={"loop_age_seconds": 0.1})

    app = Starlette(routes=[health_route(check)])
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok", "loop_age_seconds": 0.1}
        state["ok"] = False
        answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["status"] == "fail"


def test_health_accepts_a_plain_function() -> None:
    app = Starlette(routes=[health_route(lambda: Health(ok=True))])
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
