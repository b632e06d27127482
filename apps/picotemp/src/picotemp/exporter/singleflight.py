"""One upstream request per cache window, however many scrapes arrive.

The Pico serves three connections at most. Every scrape asks :meth:`ReadingCache.get`; a
fresh outcome (success or failure) is returned as is, otherwise the first caller starts
the one upstream request and every concurrent caller awaits that same request. A scrape
whose client goes away does not cancel the shared request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from labkit.logs import get_logger

from picotemp.exporter.upstream import Reading, UpstreamError

log = get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """The result of one upstream request."""

    reading: Reading | None
    error: UpstreamError | None
    finished_monotonic: float
    finished_wall: float
    duration_seconds: float

    @property
    def ok(self) -> bool:
        return self.reading is not None


class ReadingCache:
    def __init__(
        self,
        fetch: Callable[[], Awaitable[Reading]],
        max_age_seconds: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    ) -> None:
        self._fetch = fetch
        self.max_age_seconds = max_age_seconds
        self._monotonic = monotonic
        self._wall = wall
        self._on_outcome = on_outcome
        self._inflight: asyncio.Future[Outcome] | None = None
        self.latest: Outcome | None = None
        self.last_success: Outcome | None = None
        self.generation = 0
        """Counts outcomes: what the exporter's metrics depend on changes only with it."""

    def age_seconds(self, outcome: Outcome) -> float:
        return self._monotonic() - outcome.finished_monotonic

    def fresh(self) -> Outcome | None:
        """The latest outcome if it is younger than the cache window."""
        latest = self.latest
        if latest is not None and self.age_seconds(latest) < self.max_age_seconds:
            return latest
        return None

    async def get(self) -> Outcome:
        fresh = self.fresh()
        if fresh is not None:
            return fresh
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._refresh())
        return await asyncio.shield(self._inflight)

    async def _refresh(self) -> Outcome:
        started = self._monotonic()
        reading: Reading | None = None
        error: UpstreamError | None = None
        try:
            reading = await self._fetch()
        except UpstreamError as exc:
            error = exc
            log.warning("reading the pico failed", reason=exc.reason, detail=exc.detail)
        finally:
            self._inflight = None
        finished = self._monotonic()
        outcome = Outcome(reading, error, finished, self._wall(), finished - started)
        self.latest = outcome
        self.generation += 1
        if outcome.ok:
            self.last_success = outcome
        self._on_outcome(outcome)
        return outcome
