"""The exporter as its console script, against the simulator over real HTTP."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from picotemp.sim.background import BackgroundSimulator
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

EXPORTER = str(Path(sys.executable).parent / "picotemp-exporter")


def scrape(url: str) -> dict[str, float]:
    response = httpx.get(url + "/metrics", timeout=10)
    assert response.status_code == 200
    return {
        sample.name
        + "".join(f"{{{k}={v}}}" for k, v in sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def exporter(module_simulator, start_module_exporter):  # type: ignore[no-untyped-def]
    return start_module_exporter(module_simulator.url, cache_seconds="0.3", timeout_seconds="1")


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
def test_each_fault_gives_a_prompt_pico_up_0_without_temperature(
    module_simulator: BackgroundSimulator, exporter, fault: str, reason: str
) -> None:  # type: ignore[no-untyped-def]
    module_simulator.set_fault("none")
    time.sleep(0.35)
    healthy = scrape(exporter.url)
    assert healthy["pico_up"] == 1
    assert healthy["pico_temperature{unit=celsius}"] == pytest.approx(23.4, abs=0.05)
    errors_before = healthy[f"pico_scrape_errors_total{{reason={reason}}}"]

    module_simulator.set_fault(fault, delay_seconds=5)
    time.sleep(0.35)
    started = time.monotonic()
    faulty = scrape(exporter.url)
    elapsed = time.monotonic() - started
    # Bounded by PICOTEMP_TIMEOUT_SECONDS=1, not by the 5 s the Pico would take.
    assert elapsed < 2.0
    assert faulty["pico_up"] == 0
    assert not any(name.startswith("pico_temperature") for name in faulty)
    assert faulty[f"pico_scrape_errors_total{{reason={reason}}}"] == errors_before + 1
    assert faulty["pico_last_success_timestamp_seconds"] == pytest.approx(time.time(), abs=5)

    module_simulator.set_fault("none")
    time.sleep(0.35)
    assert scrape(exporter.url)["pico_up"] == 1


def test_healthz_stays_ok_while_the_pico_is_down(
    module_simulator: BackgroundSimulator, exporter
) -> None:  # type: ignore[no-untyped-def]
    module_simulator.set_fault("down")
    time.sleep(0.35)
    scrape(exporter.url)
    response = httpx.get(exporter.url + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["pico_up"] is False
    assert response.json()["last_error"] == "connect"
    module_simulator.set_fault("none")


def test_fifty_concurrent_scrapes_make_one_upstream_request(
    simulator: BackgroundSimulator, start_exporter
) -> None:  # type: ignore[no-untyped-def]
    exporter = start_exporter(simulator.url, cache_seconds="30", timeout_seconds="3")
    # The Pico takes 0.5 s: every scrape arrives while the one request is in flight.
    simulator.set_fault("slow", delay_seconds=0.5)
    before = simulator.requests_total

    async def scrapes() -> list[str]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            responses = await asyncio.gather(
                *(client.get(exporter.url + "/metrics") for _ in range(50))
            )
        return [r.text for r in responses if r.status_code == 200]

    bodies = asyncio.run(scrapes())
    assert len(bodies) == 50
    assert simulator.requests_total - before == 1
    assert all('pico_temperature{unit="celsius"}' in body for body in bodies)
    assert all("pico_up 1.0" in body for body in bodies)


def test_sustained_scraping_stays_within_one_request_per_cache_window(
    simulator: BackgroundSimulator, start_exporter
) -> None:  # type: ignore[no-untyped-def]
    exporter = start_exporter(simulator.url, cache_seconds="0.5", timeout_seconds="1")
    before = simulator.requests_total
    duration = 2.0

    async def hammer() -> int:
        done = 0
        deadline = time.monotonic() + duration
        async with httpx.AsyncClient(timeout=5) as client:

            async def worker() -> None:
                nonlocal done
                while time.monotonic() < deadline:
                    assert (await client.get(exporter.url + "/metrics")).status_code == 200
                    done += 1

            await asyncio.gather(*(worker() for _ in range(8)))
        return done

    scrapes = asyncio.run(hammer())
    upstream = simulator.requests_total - before
    assert scrapes > 20
    assert 1 <= upstream <= duration / 0.5 + 1


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "PICO_SERVER_URL: required but not set"),
        ({"PICO_SERVER_URL": "gopher://pico"}, "PICO_SERVER_URL"),
        (
            {"PICO_SERVER_URL": "http://pico/", "PICOTEMP_CACHE_SECONDS": "lots"},
            "PICOTEMP_CACHE_SECONDS",
        ),
        ({"PICO_SERVER_URL": "http://pico/", "PICOTEMP_LISTEN": "nowhere"}, "PICOTEMP_LISTEN"),
        (
            {"PICO_SERVER_URL": "http://pico/", "PICOTEMP_TIMEOUT_SECONDS": "0"},
            "PICOTEMP_TIMEOUT_SECONDS",
        ),
    ],
)
def test_bad_configuration_exits_2_naming_the_variable(
    env: dict[str, str], named: str, port: int
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PICO_", "PICOTEMP_"))}
    if not named.startswith("PICO_SERVER_URL"):
        env = {"PICO_SERVER_URL": "http://127.0.0.1:9/", **env}
    env = {"PICOTEMP_LISTEN": f"127.0.0.1:{port}", **env}
    done = subprocess.run(
        [EXPORTER], env={**clean, **env}, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert named in done.stderr
    assert done.stderr.startswith("picotemp-exporter: configuration error: ")
    assert "Traceback" not in done.stderr
    # It never started listening.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


def test_sigterm_stops_the_exporter_cleanly(simulator: BackgroundSimulator, start_exporter) -> None:  # type: ignore[no-untyped-def]
    exporter = start_exporter(simulator.url)
    assert scrape(exporter.url)["pico_up"] == 1
    started = time.monotonic()
    exporter.proc.send_signal(signal.SIGTERM)
    assert exporter.proc.wait(10) == 0
    assert time.monotonic() - started < 5
    log = exporter.log.read_text()
    assert "Application shutdown complete" in log
    assert "stopped service=picotemp-exporter" in log
