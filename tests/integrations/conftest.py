"""Session fixtures: the real servers the integration tests run against, on loopback.

- a lab CA and server certificate (openssl), so every TLS connection is verified;
- a real Home Assistant 2024.3.3 in its own venv, with the lab's documented configuration;
- the Pico W simulator (apps/picotemp) and the dome controller in simulation (apps/dome,
  `dome serve --sim`: control and API processes) for its REST sensors to read, behind a
  stand-in of the apps stack's device Ingress (HTTPS from the test CA, only the read paths
  labinfra.device_ingress routes), which is what the documented configuration reads.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from envs import ensure_env
from home_assistant import HomeAssistant, onboard, write_config
from servers import (
    DomeSim,
    IngressStandIn,
    Pki,
    dome_sim,
    free_port,
    http_ok,
    make_pki,
    running,
    tls_read_proxy,
)

from labinfra.device_ingress import DOME_READ_PATHS, PICOTEMP_READ_PATHS


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def pico(logs: Path) -> Iterator[str]:
    """The Pico W simulator: the firmware's protocol on loopback."""
    port, control = free_port(), free_port()
    url = f"http://127.0.0.1:{port}/"
    argv = [
        str(Path(sys.executable).parent / "picotemp-sim"),
        "--listen",
        f"127.0.0.1:{port}",
        "--control",
        f"127.0.0.1:{control}",
    ]
    with running("picotemp-sim", argv, logs, ready=lambda: http_ok(url)):
        yield url


@pytest.fixture(scope="session")
def dome(logs: Path) -> Iterator[DomeSim]:
    """The real dome controller in simulation, reads closed (servers.dome_sim)."""
    with dome_sim(logs) as sim:
        yield sim


@pytest.fixture(scope="session")
def ingress(pki: Pki, pico: str, dome: DomeSim) -> Iterator[IngressStandIn]:
    """The devices' read paths over TLS, as the apps stack's Ingress routes them (the same
    path lists, exact match), one origin per device host."""
    pico_base = pico.rstrip("/")
    with (
        tls_read_proxy({p: f"{dome.url}{p}" for p in DOME_READ_PATHS}, pki) as dome_origin,
        tls_read_proxy({p: f"{pico_base}{p}" for p in PICOTEMP_READ_PATHS}, pki) as pico_origin,
    ):
        yield IngressStandIn(dome=dome_origin, picotemp=pico_origin)


def lab_ca_bundle(env: Path, ca: Path, folder: Path) -> Path:
    """What docs/home-assistant/README.md has the operator make: certifi's bundle (the one
    Home Assistant uses by default) with the lab CA appended."""
    (certifi,) = env.glob("lib/python3*/site-packages/certifi/cacert.pem")
    bundle = folder / "lab-ca-bundle.pem"
    bundle.write_text(certifi.read_text() + ca.read_text(), encoding="utf-8")
    return bundle


@pytest.fixture(scope="session")
def home_assistant(
    tmp_path_factory: pytest.TempPathFactory,
    pki: Pki,
    logs: Path,
    ingress: IngressStandIn,
    dome: DomeSim,
) -> Iterator[HomeAssistant]:
    env = ensure_env("homeassistant")
    port = free_port()
    config = write_config(
        tmp_path_factory.mktemp("hass"),
        port=port,
        cert=pki.cert,
        key=pki.key,
        picotemp_url=f"{ingress.picotemp}/",
        dome_status_url=f"{ingress.dome}/api/dome/status",
        dome_read_authorization=f"Bearer {dome.read_token}",
    )
    url = f"https://127.0.0.1:{port}"
    argv = [str(env / "bin" / "hass"), "--config", str(config.folder), "--skip-pip"]
    # Home Assistant's REST sensors verify with this bundle only (REQUESTS_CA_BUNDLE, read
    # by homeassistant/util/ssl.py at 2024.3.3): without the lab CA in it they fail.
    ca_env = {"REQUESTS_CA_BUNDLE": str(lab_ca_bundle(env, pki.ca, config.folder))}
    # Onboarding answers once the HTTP server and the onboarding integration are up.
    with running(
        "home-assistant",
        argv,
        logs,
        env=ca_env,
        ready=lambda: http_ok(f"{url}/api/onboarding", verify=str(pki.ca)),
        timeout=240,
    ) as server:
        try:
            token = onboard(url, pki.ca)
        except Exception as exc:
            raise AssertionError(f"onboarding failed: {exc}\n{server.tail()}") from exc
        yield HomeAssistant(url, token, config, pki.ca)
