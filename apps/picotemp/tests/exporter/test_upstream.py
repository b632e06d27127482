import asyncio
import math

import httpx
import pytest
from picotemp.exporter.upstream import ERROR_REASONS, PicoClient, UpstreamError, parse_reading
from picotemp.firmware import core
from picotemp.sim.background import BackgroundSimulator


def test_parses_what_the_firmware_sends() -> None:
    reading = parse_reading(core.reading_json(22.25))
    assert reading.celsius == pytest.approx(22.25)
    assert reading.fahrenheit == pytest.approx(core.celsius_to_fahrenheit(22.25), abs=0.005)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"tempC": 21.0}',
        b'{"tempC": "21", "tempF": 70.0}',
        b'{"tempC": null, "tempF": 70.0}',
        b'{"tempC": NaN, "tempF": 70.0}',
        b'{"tempC": 1e999, "tempF": 70.0}',
    ],
)
def test_anything_else_is_an_invalid_body(body: bytes) -> None:
    with pytest.raises(UpstreamError) as caught:
        parse_reading(body)
    assert caught.value.reason == "invalid_body"


def test_reasons_are_checked() -> None:
    with pytest.raises(AssertionError):
        UpstreamError("bored", "no such reason")
    assert len(set(ERROR_REASONS)) == len(ERROR_REASONS)


async def _fetch(url: str, deadline: float) -> float:
    async with httpx.AsyncClient() as http:
        return (await PicoClient(url, deadline, http).fetch()).celsius


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("slow", "timeout"),
        ("hang", "timeout"),
        ("garbage", "invalid_body"),
        ("error", "http_status"),
        ("reset", "connection_lost"),
        ("down", "connect"),
    ],
)
def test_each_fault_of_the_simulator_maps_to_its_reason(
    simulator: BackgroundSimulator, fault: str, reason: str
) -> None:
    assert math.isclose(asyncio.run(_fetch(simulator.url, 1)), 23.4, abs_tol=0.05)
    simulator.set_fault(fault, delay_seconds=2)
    with pytest.raises(UpstreamError) as caught:
        asyncio.run(_fetch(simulator.url, 0.5))
    assert caught.value.reason == reason


def test_the_whole_request_is_bounded_by_the_timeout(simulator: BackgroundSimulator) -> None:
    simulator.set_fault("hang")
    loop_started = asyncio.run(_timed_failure(simulator.url, 0.3))
    assert 0.3 <= loop_started < 1.0


async def _timed_failure(url: str, deadline: float) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(UpstreamError):
        await _fetch(url, deadline)
    return loop.time() - started
