import asyncio

import pytest
from picotemp.exporter.singleflight import Outcome, ReadingCache
from picotemp.exporter.upstream import Reading, UpstreamError


class Upstream:
    """A fetch whose answers the test releases one by one, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.fail_with: str | None = None

    async def fetch(self) -> Reading:
        self.calls += 1
        await self.gate.wait()
        if self.fail_with:
            raise UpstreamError(self.fail_with, "test")
        return Reading(20.0 + self.calls, 68.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(upstream: Upstream, clock: Clock, outcomes: list[Outcome] | None = None) -> ReadingCache:
    sink = outcomes if outcomes is not None else []
    return ReadingCache(upstream.fetch, 2.0, monotonic=clock, wall=clock, on_outcome=sink.append)


def test_concurrent_callers_share_one_upstream_request() -> None:
    async def main() -> None:
        upstream, clock = Upstream(), Clock()
        cache = make(upstream, clock)
        waiters = [asyncio.create_task(cache.get()) for _ in range(50)]
        await asyncio.sleep(0)
        upstream.gate.set()
        outcomes = await asyncio.gather(*waiters)
        assert upstream.calls == 1
        assert {o.reading for o in outcomes} == {Reading(21.0, 68.0)}

    asyncio.run(main())


def test_outcome_is_reused_for_the_cache_window_then_refreshed() -> None:
    async def main() -> None:
        upstream, clock = Upstream(), Clock()
        upstream.gate.set()
        cache = make(upstream, clock)
        first = await cache.get()
        clock.now += 1.9
        assert await cache.get() is first
        clock.now += 0.1
        second = await cache.get()
        assert upstream.calls == 2
        assert second.reading == Reading(22.0, 68.0)

    asyncio.run(main())


def test_failures_are_cached_too_so_a_down_pico_is_not_hammered() -> None:
    async def main() -> None:
        upstream, clock = Upstream(), Clock()
        upstream.gate.set()
        upstream.fail_with = "connect"
        outcomes: list[Outcome] = []
        cache = make(upstream, clock, outcomes)
        results = [await cache.get() for _ in range(10)]
        assert upstream.calls == 1
        assert not results[0].ok
        assert results[0].error is not None
        assert results[0].error.reason == "connect"
        assert len(outcomes) == 1
        assert cache.last_success is None

    asyncio.run(main())


def test_a_cancelled_scrape_does_not_cancel_the_shared_request() -> None:
    async def main() -> None:
        upstream, clock = Upstream(), Clock()
        cache = make(upstream, clock)
        impatient = asyncio.create_task(cache.get())
        patient = asyncio.create_task(cache.get())
        await asyncio.sleep(0)
        impatient.cancel()
        await asyncio.sleep(0)
        upstream.gate.set()
        outcome = await patient
        assert outcome.ok
        assert upstream.calls == 1
        with pytest.raises(asyncio.CancelledError):
            await impatient

    asyncio.run(main())


def test_last_success_survives_failures() -> None:
    async def main() -> None:
        upstream, clock = Upstream(), Clock()
        upstream.gate.set()
        cache = make(upstream, clock)
        good = await cache.get()
        clock.now += 5
        upstream.fail_with = "timeout"
        bad = await cache.get()
        assert cache.latest is bad
        assert cache.last_success is good
        assert good.finished_wall == 100.0

    asyncio.run(main())
