"""``/metrics`` and ``/healthz`` as Starlette routes, for any Starlette or FastAPI app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class Health:
    """What ``/healthz`` reports: ``ok`` decides 200 or 503; ``detail`` is shown as is."""

    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


HealthCheck = Callable[[], Health | Awaitable[Health]]


def metrics_route(
    registry: CollectorRegistry = REGISTRY,
    *,
    path: str = "/metrics",
    before: Callable[[], Awaitable[None]] | None = None,
    cache_key: Callable[[], Hashable] | None = None,
) -> Route:
    """Serve ``registry`` in the format the scraper asks for (text or OpenMetrics).

    ``before`` runs first on every scrape: an exporter refreshes its reading there, so the
    numbers in the answer are as fresh as the scrape.

    ``cache_key``, if given, is asked after ``before``: while it returns the same value the
    encoded answer is reused instead of collected and encoded again. For apps whose metrics
    change only when they say so (an exporter refreshing once per cache window), where
    encoding is most of the cost of a scrape.
    """
    rendered: dict[str, tuple[Hashable, bytes]] = {}

    async def metrics(request: Request) -> Response:
        if before is not None:
            await before()
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        if cache_key is None:
            return Response(encoder(registry), headers={"Content-Type": content_type})
        key = cache_key()
        cached = rendered.get(content_type)
        if cached is None or cached[0] != key:
            cached = (key, encoder(registry))
            rendered[content_type] = cached
        return Response(cached[1], headers={"Content-Type": content_type})

    return Route(path, metrics, methods=["GET"], name="metrics")


def health_route(check: HealthCheck, *, path: str = "/healthz") -> Route:
    """200 with ``{"status": "ok", ...}`` while healthy, 503 with ``"fail"`` otherwise."""

    async def healthz(request: Request) -> Response:
        result = check()
        health = await result if isinstance(result, Awaitable) else result
        body = {"status": "ok" if health.ok else "fail", **health.detail}
        return JSONResponse(body, status_code=200 if health.ok else 503)

    return Route(path, healthz, methods=["GET"], name="healthz")
