"""A slow SIMBAD must not stall the API: the lookup runs in a worker thread with a time
limit, and other requests are answered meanwhile. In-process (ASGI); SIMBAD is replaced
by a function that blocks, since the machine has no internet and astroquery is an
optional extra."""

from __future__ import annotations

import asyncio
import threading

import httpx

from dome.api.app import create_app
from dome.config import DomeSettings
from dome.core.catalogue import CatalogueObject


def test_a_hung_simbad_times_out_and_the_api_keeps_answering() -> None:
    settings = DomeSettings(api_token="t", simbad_online=True, simbad_timeout_s=1.0)
    app = create_app(settings, simulated=True)
    catalogue = app.state.dome.catalogue
    released = threading.Event()

    def hung_simbad(name: str) -> CatalogueObject | None:
        released.wait(3)  # SIMBAD does not answer (for longer than the limit)
        return None

    catalogue._simbad = hung_simbad
    order: list[str] = []

    async def run() -> tuple[int, str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dome") as c:

            async def track() -> httpx.Response:
                r = await c.post(
                    "/api/tracking/start",
                    json={"name": "Comet Nobody"},
                    headers={"Authorization": "Bearer t"},
                )
                order.append("track")
                return r

            async def other() -> None:
                await asyncio.sleep(0.05)
                r = await c.get("/api/health/system")
                assert r.status_code == 200
                order.append("system")

            slow, _ = await asyncio.gather(track(), other())
            return slow.status_code, slow.text

    code, text = asyncio.run(run())
    released.set()
    assert order == ["system", "track"]  # answered while SIMBAD hung
    assert code == 404
    assert "SIMBAD did not answer within 1 s" in text
