"""Home Assistant, for real: a Home Assistant 2024.3.3 process (its own venv, headless,
onboarded through its API) configured with docs/home-assistant/, over TLS signed by a
throw-away lab CA. What runs against it, all real: Debian's Prometheus with the scrape
config the platform generates, Debian's blackbox exporter with the generated module,
Debian's Alertmanager with the generated receiver, and behind the documented REST sensors
the Pico W simulator and the real dome controller in simulation (`dome serve --sim`).
Only the scrape interval is shortened (2 s instead of the rate-limited 30 s+) so the test
does not wait minutes for samples."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from home_assistant import HomeAssistant, ws_command
from servers import (
    DomeSim,
    IngressStandIn,
    blackbox,
    free_port,
    http_ok,
    prometheus,
    prometheus_query,
    running,
    tls,
    wait_for,
    write_yaml,
)

from labinfra.monitoring.alertmanager import AlertmanagerSettings, alertmanager_config
from labinfra.monitoring.integrations import (
    HOME_ASSISTANT_SECRET,
    Integrations,
    blackbox_config,
    integration_jobs,
    prometheus_scrape_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def test_api_answers_only_with_the_long_lived_token(home_assistant: HomeAssistant) -> None:
    ha = home_assistant
    auth = {"Authorization": f"Bearer {ha.token}"}
    ok = httpx.get(f"{ha.url}/api/", headers=auth, verify=tls(ha.ca))
    assert ok.status_code == 200
    assert ok.json() == {"message": "API running."}
    assert httpx.get(f"{ha.url}/api/", verify=tls(ha.ca)).status_code == 401
    assert httpx.get(f"{ha.url}/api/prometheus", verify=tls(ha.ca)).status_code == 401
    assert httpx.get(f"{ha.url}/api/prometheus", headers=auth, verify=tls(ha.ca)).status_code == 200


@dataclass(frozen=True)
class Watching:
    prometheus: str
    blackbox: str


@pytest.fixture(scope="module")
def watching(
    home_assistant: HomeAssistant, tmp_path_factory: pytest.TempPathFactory, logs: Path
) -> Iterator[Watching]:
    """Blackbox exporter and Prometheus configured by the platform's generators."""
    ha = home_assistant
    folder = tmp_path_factory.mktemp("ha-monitoring")
    integrations = Integrations.model_validate(
        {"homeAssistant": {"address": ha.url.removeprefix("https://"), "scheme": "https"}}
    )
    token_file = folder / "home-assistant-token"
    token_file.write_text(ha.token)
    revoked = folder / "revoked-token"
    revoked.write_text("not-" + ha.token)
    box = blackbox_config(integrations, ca_file=str(ha.ca), home_assistant_token=ha.token)
    with blackbox(folder / "blackbox", logs, box) as box_address:
        jobs = integration_jobs(
            integrations,
            replicas=1,
            blackbox_address="blackbox.invalid:9115",
            pve_address="unused:1",
            graphite_address="unused:1",
        )
        scrape = []
        for job in jobs:
            config = prometheus_scrape_config(
                job,
                credential_files={HOME_ASSISTANT_SECRET: str(token_file)},
                ca_file=str(ha.ca),
                via=box_address,
            )
            config["scrape_interval"] = config["scrape_timeout"] = "2s"
            scrape.append(config)
        # The same job with a token Home Assistant does not know: must be refused.
        bad = prometheus_scrape_config(
            jobs[0], credential_files={HOME_ASSISTANT_SECRET: str(revoked)}, ca_file=str(ha.ca)
        )
        bad.update(job_name="home-assistant-revoked", scrape_interval="2s", scrape_timeout="2s")
        scrape.append(bad)
        config = {"global": {"evaluation_interval": "2s"}, "scrape_configs": scrape}
        with prometheus(folder / "prometheus", logs, config) as base:
            yield Watching(base, box_address)


def _value(base: str, query: str) -> float | None:
    result = prometheus_query(base, query)
    if not result:
        return None
    value = result[0]["value"]
    assert isinstance(value, list)
    return float(value[1])


def test_prometheus_scrapes_home_assistant_with_the_token_from_a_file(
    watching: Watching,
) -> None:
    base = watching.prometheus
    wait_for(lambda: _value(base, 'up{job="home-assistant"}') == 1.0, 60, "HA scraped")
    assert _value(base, 'up{job="home-assistant",lab_integration="home-assistant"}') == 1.0
    wait_for(lambda: _value(base, 'up{job="home-assistant-revoked"}') == 0.0, 60, "revoked refused")
    names = prometheus_query(
        base, 'count by (__name__) ({job="home-assistant",__name__=~"hass_.+"})'
    )
    assert len(names) > 3, names


def test_the_pico_appears_in_home_assistant_and_in_its_metrics(
    home_assistant: HomeAssistant, watching: Watching
) -> None:
    """The REST sensor from docs/home-assistant reads the Pico simulator's JSON."""
    ha = home_assistant
    auth = {"Authorization": f"Bearer {ha.token}"}

    def state() -> dict[str, object]:
        answer = httpx.get(
            f"{ha.url}/api/states/sensor.pico_w_temperature", headers=auth, verify=tls(ha.ca)
        )
        answer.raise_for_status()
        data = answer.json()
        assert isinstance(data, dict)
        return data

    wait_for(lambda: state()["state"] not in ("unknown", "unavailable"), 60, "pico sensor")
    sensor = state()
    assert 0 < float(str(sensor["state"])) < 60
    attributes = sensor["attributes"]
    assert isinstance(attributes, dict)
    assert attributes["unit_of_measurement"] == "°C"
    assert attributes["device_class"] == "temperature"
    query = 'hass_sensor_temperature_celsius{entity="sensor.pico_w_temperature"}'
    wait_for(lambda: _value(watching.prometheus, query) is not None, 60, "pico in metrics")


def test_the_dome_appears_in_home_assistant_and_in_its_metrics(
    home_assistant: HomeAssistant, dome: DomeSim, ingress: IngressStandIn, watching: Watching
) -> None:
    """The documented REST sensors read the real dome controller (`dome serve --sim`, reads
    closed: only the documented Authorization header gets its status) over HTTPS through
    the ingress stand-in, which routes the status read and no command. The dome is moved
    and its shutter opened through its own API; Home Assistant's entities must then show
    what the dome reports, not what they showed before."""
    ha = home_assistant
    bearer = {"Authorization": f"Bearer {dome.token}"}
    # Through the ingress, even with the token: the read answers, commands are not routed.
    via = httpx.get(f"{ingress.dome}/api/dome/status", headers=bearer, verify=tls(ha.ca))
    assert via.status_code == 200, via.text
    for path in ("/api/dome/goto", "/api/dome/shutter/open", "/api/dome/status/"):
        refused = httpx.post(f"{ingress.dome}{path}", headers=bearer, verify=tls(ha.ca))
        assert refused.status_code == 404, (path, refused.status_code)
    auth = {"Authorization": f"Bearer {ha.token}"}
    entities = ["sensor.dome_state", "sensor.dome_azimuth", "sensor.dome_shutter"]
    entities.append("binary_sensor.dome_moving")

    def state(entity: str) -> dict[str, Any]:
        answer = httpx.get(f"{ha.url}/api/states/{entity}", headers=auth, verify=tls(ha.ca))
        answer.raise_for_status()
        data = answer.json()
        assert isinstance(data, dict)
        return data

    def refresh() -> None:
        """Ask Home Assistant to poll now, instead of waiting for the 15 s scan interval."""
        httpx.post(
            f"{ha.url}/api/services/homeassistant/update_entity",
            headers=auth,
            json={"entity_id": entities},
            verify=tls(ha.ca),
            timeout=30,
        ).raise_for_status()

    with httpx.Client(
        base_url=dome.url, headers={"Authorization": f"Bearer {dome.token}"}, timeout=10
    ) as client:

        def status() -> dict[str, Any]:
            answer = client.get("/api/dome/status")
            answer.raise_for_status()
            data = answer.json()
            assert isinstance(data, dict)
            return data

        assert httpx.get(f"{dome.url}/api/dome/status").status_code == 401  # reads closed

        def shows(expected: dict[str, Any]) -> bool:
            refresh()
            return (
                state("sensor.dome_state")["state"] == expected["state"]
                and state("sensor.dome_shutter")["state"] == expected["shutter"]["state"]
                and _same_angle(state("sensor.dome_azimuth")["state"], expected["azimuth"])
                and state("binary_sensor.dome_moving")["state"]
                == ("on" if expected["moving"] else "off")
            )

        before = status()
        assert before["shutter"]["state"] == "closed"
        wait_for(lambda: shows(status()), 60, "the dome's first state in Home Assistant")
        target = (float(before["azimuth"] or 0.0) + 123.0) % 360
        assert client.post("/api/dome/goto", json={"azimuth": target}).status_code == 200
        assert client.post("/api/dome/shutter/open").status_code == 200
        wait_for(
            lambda: not status()["moving"] and status()["shutter"]["state"] == "open",
            120,
            "the dome at its target with the shutter open",
        )
        after = status()
        assert _same_angle(str(after["azimuth"]), target, tolerance=0.5)
        wait_for(lambda: shows(after), 60, "the dome's new state in Home Assistant")
        attributes = state("sensor.dome_state")["attributes"]
        for key in ("azimuth", "target", "moving", "at_home", "at_park", "fault"):
            assert attributes[key] == after[key], key
        assert state("sensor.dome_azimuth")["attributes"]["unit_of_measurement"] == "°"
        assert state("binary_sensor.dome_moving")["attributes"]["device_class"] == "moving"
        assert client.post("/api/dome/shutter/close").status_code == 200
    query = 'hass_entity_available{entity="sensor.dome_shutter"}'
    wait_for(lambda: _value(watching.prometheus, query) == 1.0, 60, "dome in metrics")


def test_home_assistant_holds_the_read_token_and_the_dome_refuses_it_commands(
    home_assistant: HomeAssistant, dome: DomeSim
) -> None:
    """Home Assistant's dome credential (what the documented secrets.yaml holds, with which
    its sensors read the dome above) is the read-only token: sent straight to the dome, as
    from the lab zone where the commands are reachable (the ingress routes none), it reads
    the status, and the dome refuses it goto, shutter open and park; nothing moves."""
    secrets_ = json.loads((home_assistant.config.folder / "secrets.yaml").read_text())
    held = {"Authorization": secrets_["dome_read_authorization"]}
    assert dome.token not in held["Authorization"]
    with httpx.Client(
        base_url=dome.url, headers={"Authorization": f"Bearer {dome.token}"}, timeout=10
    ) as client:

        def status() -> dict[str, Any]:
            answer = client.get("/api/dome/status")
            answer.raise_for_status()
            data = answer.json()
            assert isinstance(data, dict)
            return data

        def at_rest() -> bool:
            now = status()
            return not now["moving"] and now["shutter"]["state"] in ("open", "closed")

        wait_for(at_rest, 120, "the dome at rest")
        before = status()
        read = httpx.get(f"{dome.url}/api/dome/status", headers=held, timeout=10)
        assert read.status_code == 200, read.text
        target = (float(before["azimuth"] or 0.0) + 90.0) % 360
        for path, body in (
            ("/api/dome/goto", {"azimuth": target}),
            ("/api/dome/shutter/open", None),
            ("/api/dome/shutter/close", None),
            ("/api/dome/park", None),
        ):
            refused = httpx.post(f"{dome.url}{path}", headers=held, json=body, timeout=10)
            assert refused.status_code == 403, (path, refused.text)
            assert refused.json()["code"] == "token_read_only", path
        time.sleep(1.0)  # a command that got through would have started by now
        after = status()
        assert not after["moving"]
        assert after["target"] == before["target"]
        assert _same_angle(str(after["azimuth"]), before["azimuth"], tolerance=0.5)
        assert after["shutter"]["state"] == before["shutter"]["state"]


def _same_angle(shown: object, expected: object, tolerance: float = 1e-6) -> bool:
    try:
        difference = abs(float(str(shown)) - float(str(expected))) % 360
    except ValueError:
        return False
    return min(difference, 360 - difference) <= tolerance


def test_blackbox_probes_the_api_like_a_user(watching: Watching) -> None:
    base = watching.prometheus
    wait_for(
        lambda: _value(base, 'probe_success{job="probe-home-assistant"}') == 1.0, 60, "probe ok"
    )
    duration = _value(base, 'probe_duration_seconds{job="probe-home-assistant"}')
    assert duration is not None
    assert duration > 0
    # Verified against the lab CA, over TLS.
    assert _value(base, 'probe_http_ssl{job="probe-home-assistant"}') == 1.0
    instance = prometheus_query(base, 'probe_success{job="probe-home-assistant"}')[0]["metric"]
    assert isinstance(instance, dict)
    assert instance["instance"].endswith("/api/")


def test_the_probe_fails_without_the_lab_ca(
    home_assistant: HomeAssistant, watching: Watching, tmp_path: Path, logs: Path
) -> None:
    """The module verifies TLS: with another CA the same probe fails."""
    other = tmp_path / "other-ca.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(tmp_path / "k"), "-out", str(other), "-days", "1",
         "-subj", "/CN=not the lab CA"],
        check=True, capture_output=True,
    )  # fmt: skip
    integrations = Integrations.model_validate(
        {"homeAssistant": {"address": home_assistant.url.removeprefix("https://")}}
    )
    box = blackbox_config(
        integrations, ca_file=str(other), home_assistant_token=home_assistant.token
    )
    with blackbox(tmp_path / "bb", logs, box) as address:
        target = f"{home_assistant.url}/api/"
        answer = httpx.get(
            f"http://{address}/probe", params={"module": "home_assistant", "target": target}
        )
        assert "probe_success 0" in answer.text
        good = blackbox_config(
            integrations, ca_file=str(home_assistant.ca), home_assistant_token="wrong"
        )
        assert good["modules"]["home_assistant"]["http"]["valid_status_codes"] == [200]


def test_alertmanager_notification_fires_the_automation(
    home_assistant: HomeAssistant, watching: Watching, tmp_path: Path, logs: Path
) -> None:
    """Alertmanager's generated Home Assistant receiver -> webhook -> automation -> a
    persistent notification and sensor.lab_alerts_firing, which Prometheus then scrapes."""
    ha = home_assistant
    settings = AlertmanagerSettings.model_validate({"homeAssistant": {"url": ha.url}})
    config = alertmanager_config(
        settings, home_assistant_webhook_id=ha.config.webhook_id, ca_file=str(ha.ca)
    )
    config["route"]["group_wait"] = "1s"
    path = write_yaml(tmp_path / "alertmanager.yml", config)
    check = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        "prometheus-alertmanager",
        f"--config.file={path}",
        f"--storage.path={tmp_path / 'am'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with running("alertmanager", argv, logs, ready=lambda: http_ok(f"{base}/-/ready")) as am:
        alert = {
            "labels": {
                "alertname": "ProxmoxNodeDown",
                "severity": "critical",
                "id": "node/pve2",
                "lab_integration": "proxmox",
            },
            "annotations": {
                "summary": "Proxmox node node/pve2 is offline",
                "runbook_url": "https://github.com/example-lab/lab/blob/main/docs/runbooks/integrations.md#proxmoxnodedown",
            },
        }
        posted = httpx.post(f"{base}/api/v2/alerts", json=[alert])
        assert posted.status_code == 200, posted.text
        auth = {"Authorization": f"Bearer {ha.token}"}

        def sensor() -> dict[str, object]:
            data = httpx.get(
                f"{ha.url}/api/states/sensor.lab_alerts_firing", headers=auth, verify=tls(ha.ca)
            ).json()
            assert isinstance(data, dict)
            return data

        wait_for(lambda: sensor().get("state") == "1", 60, "automation ran", am)
        attributes = sensor()["attributes"]
        assert isinstance(attributes, dict)
        assert attributes["alertnames"] == "ProxmoxNodeDown"
        assert attributes["status"] == "firing"
        notifications = ws_command(ha.url, ha.token, ha.ca, {"type": "persistent_notification/get"})
        assert isinstance(notifications, list)
        (note,) = [n for n in notifications if n["notification_id"] == "lab-alert-ProxmoxNodeDown"]
        assert "Proxmox node node/pve2 is offline" in note["message"]
        assert "runbook" in note["message"]
    query = 'hass_sensor_state{entity="sensor.lab_alerts_firing"}'
    wait_for(lambda: _value(watching.prometheus, query) == 1.0, 60, "sensor in metrics")
    assert json.dumps(config).count(ha.config.webhook_id) == 1
