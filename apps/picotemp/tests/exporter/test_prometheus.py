"""A real Prometheus (Debian's /usr/bin/prometheus) scrapes the exporter, which reads the
simulator; the Pico going down must show as pico_up 0 in Prometheus itself."""

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from labkit.testing import ServiceProcess, wait_until
from picotemp.sim.background import BackgroundSimulator

pytestmark = pytest.mark.integration

RULES = Path(__file__).parents[4] / "infra/monitoring/rules/picotemp.rules.yml"


@pytest.fixture
def start_prometheus(tmp_path: Path, port: int) -> Iterator[Callable[[str], str]]:
    """Starts Prometheus on a free loopback port with the given config; returns its URL."""
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    assert Path(binary).exists(), "prometheus is not installed: run scripts/bootstrap"
    started: list[ServiceProcess] = []

    def start(config_text: str) -> str:
        config = tmp_path / "prometheus.yml"
        config.write_text(config_text)
        url = f"http://127.0.0.1:{port}"
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        service = ServiceProcess(argv, log=tmp_path / "prometheus.log", name="prometheus")
        started.append(service.start())
        return url

    yield start
    for service in started:
        service.stop()


def query(prometheus_url: str, expr: str) -> list[dict]:  # type: ignore[type-arg]
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=5)
    response.raise_for_status()
    return response.json()["data"]["result"]  # type: ignore[no-any-return]


def wait_for_value(prometheus_url: str, expr: str, wanted: float, timeout: float) -> None:
    def reached() -> bool:
        try:
            result = query(prometheus_url, expr)
        except httpx.HTTPError:
            return False
        return bool(result) and float(result[0]["value"][1]) == wanted

    wait_until(reached, timeout=timeout, interval=0.25, what=f"{expr} to become {wanted}")


def wait_for_empty(prometheus_url: str, expr: str, timeout: float) -> None:
    wait_until(
        lambda: not query(prometheus_url, expr),
        timeout=timeout,
        interval=0.25,
        what=f"{expr} to have no samples",
    )


def test_prometheus_sees_pico_up_then_down(
    simulator: BackgroundSimulator, start_exporter, start_prometheus
) -> None:  # type: ignore[no-untyped-def]
    exporter = start_exporter(simulator.url, cache_seconds="0.5", timeout_seconds="1")
    prometheus_url = start_prometheus(
        f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{RULES}"]
scrape_configs:
  - job_name: picotemp
    static_configs:
      - targets: ["127.0.0.1:{exporter.port}"]
"""
    )
    wait_for_value(prometheus_url, 'up{job="picotemp"}', 1, 30)
    wait_for_value(prometheus_url, 'pico_up{job="picotemp"}', 1, 30)
    celsius = query(prometheus_url, 'pico_temperature{unit="celsius"}')
    assert float(celsius[0]["value"][1]) == pytest.approx(23.4, abs=0.05)

    simulator.set_fault("down")
    wait_for_value(prometheus_url, 'pico_up{job="picotemp"}', 0, 30)
    # The exporter itself is still up; the temperature series went stale, not frozen.
    assert float(query(prometheus_url, 'up{job="picotemp"}')[0]["value"][1]) == 1
    wait_for_empty(prometheus_url, "pico_temperature", 10)
    errors = query(prometheus_url, 'pico_scrape_errors_total{reason="connect"}')
    assert float(errors[0]["value"][1]) >= 1

    groups = httpx.get(f"{prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert {"PicoDown", "PicoTemperatureOutOfRange", "PicotempExporterDown"} <= set(rules)
    assert all(rule["health"] == "ok" for rule in rules.values())
    # PicoDown waits 5 minutes before firing: now it is pending, not firing.
    wait_for_value(prometheus_url, 'ALERTS{alertname="PicoDown", alertstate="pending"}', 1, 10)
