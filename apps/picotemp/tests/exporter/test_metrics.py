import asyncio

import pytest
from picotemp.exporter.metrics import ExporterMetrics
from picotemp.exporter.singleflight import ReadingCache
from picotemp.exporter.upstream import ERROR_REASONS, Reading, UpstreamError
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def samples(metrics: ExporterMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def setup(results: list[Reading | str]) -> tuple[ReadingCache, ExporterMetrics, Clock]:
    clock = Clock()
    queue = list(results)

    async def fetch() -> Reading:
        result = queue.pop(0)
        if isinstance(result, str):
            raise UpstreamError(result, "test")
        return result

    metrics: ExporterMetrics | None = None
    cache = ReadingCache(
        fetch,
        2.0,
        monotonic=clock,
        wall=clock,
        on_outcome=lambda o: metrics.record(o),  # type: ignore[union-attr]
    )
    metrics = ExporterMetrics(cache, stale_after_seconds=5.0)
    return cache, metrics, clock


CELSIUS = ("pico_temperature", (("unit", "celsius"),))
FAHRENHEIT = ("pico_temperature", (("unit", "fahrenheit"),))
UP = ("pico_up", ())


def test_before_any_request_pico_is_not_up_and_errors_exist_at_zero() -> None:
    _, metrics, _ = setup([])
    got = samples(metrics)
    assert got[UP] == 0
    assert CELSIUS not in got
    for reason in ERROR_REASONS:
        assert got[("pico_scrape_errors_total", (("reason", reason),))] == 0
    assert ("pico_last_success_timestamp_seconds", ()) not in got
    build = [key for key in got if key[0] == "picotemp_exporter_build_info"]
    assert len(build) == 1
    assert got[build[0]] == 1


def test_a_good_reading_shows_both_units_and_success_time() -> None:
    cache, metrics, clock = setup([Reading(21.5, 70.7)])
    asyncio.run(cache.get())
    got = samples(metrics)
    assert got[UP] == 1
    assert got[CELSIUS] == 21.5
    assert got[FAHRENHEIT] == 70.7
    assert got[("pico_last_success_timestamp_seconds", ())] == clock.now
    assert got[("pico_upstream_requests_total", ())] == 1


@pytest.mark.parametrize("reason", ERROR_REASONS)
def test_a_failure_after_success_drops_the_temperature(reason: str) -> None:
    cache, metrics, clock = setup([Reading(21.5, 70.7), reason])
    asyncio.run(cache.get())
    success_time = clock.now
    clock.now += 3
    asyncio.run(cache.get())
    got = samples(metrics)
    assert got[UP] == 0
    assert CELSIUS not in got
    assert FAHRENHEIT not in got
    assert got[("pico_scrape_errors_total", (("reason", reason),))] == 1
    assert sum(v for k, v in got.items() if k[0] == "pico_scrape_errors_total") == 1
    assert got[("pico_last_success_timestamp_seconds", ())] == success_time
    assert got[("pico_upstream_requests_total", ())] == 2


def test_an_old_reading_is_never_shown_as_current() -> None:
    cache, metrics, clock = setup([Reading(21.5, 70.7)])
    asyncio.run(cache.get())
    clock.now += 6  # older than stale_after_seconds and nobody refreshed
    got = samples(metrics)
    assert got[UP] == 0
    assert CELSIUS not in got
