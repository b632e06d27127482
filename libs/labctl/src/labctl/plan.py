"""What `make lab` runs: a list of services, each a command with its ports and readiness URL.

Pure data built from the repository layout, so tests can check the plan without starting
anything, and so adding a device to the local lab is one entry here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Ports:
    prometheus: int = 9090
    picotemp_sim: int = 8780
    picotemp_exporter: int = 3030
    daq: int = 8790
    dome: int = 8470
    dome_discovery: int = 32227  # the Alpaca standard's UDP discovery port


@dataclass(frozen=True)
class Service:
    name: str
    argv: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)
    show: dict[str, str] = field(default_factory=dict)
    """URLs worth printing for a person, by what they are."""


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "infra" / "monitoring" / "rules").is_dir() and (parent / "Makefile").exists():
            return parent
    raise RuntimeError(f"cannot find the repository root above {here}")


def rule_files(root: Path) -> list[Path]:
    return sorted((root / "infra" / "monitoring" / "rules").glob("*.rules.yml"))


def prometheus_config(ports: Ports, rules: list[Path]) -> str:
    config = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [str(path) for path in rules],
        "scrape_configs": [
            {
                "job_name": "prometheus",
                "static_configs": [{"targets": [f"127.0.0.1:{ports.prometheus}"]}],
            },
            {
                "job_name": "picotemp",
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{ports.picotemp_exporter}"],
                        "labels": {"instance": "picotemp-sim"},
                    }
                ],
            },
            {
                "job_name": "dome",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{ports.dome}"], "labels": {"instance": "dome-sim"}}
                ],
            },
            {
                "job_name": "daq",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{ports.daq}"], "labels": {"instance": "labpc-sim"}}
                ],
            },
        ],
    }
    text: str = yaml.safe_dump(config, sort_keys=False)
    return text


def services(
    root: Path, state: Path, ports: Ports, prometheus_bin: str, api_token: str
) -> list[Service]:
    bin_dir = Path(sys.executable).parent
    sim_url = f"http://127.0.0.1:{ports.picotemp_sim}"
    exporter_url = f"http://127.0.0.1:{ports.picotemp_exporter}"
    prometheus_url = f"http://127.0.0.1:{ports.prometheus}"
    daq_url = f"http://127.0.0.1:{ports.daq}"
    dome_url = f"http://127.0.0.1:{ports.dome}"
    return [
        Service(
            name="picotemp-sim",
            argv=[str(bin_dir / "picotemp-sim"), "--listen", f"127.0.0.1:{ports.picotemp_sim}"],
            ready_url=f"{sim_url}/",
            show={"Pico W simulator": f"{sim_url}/"},
        ),
        Service(
            name="picotemp-exporter",
            argv=[str(bin_dir / "picotemp-exporter")],
            env={
                "PICO_SERVER_URL": f"{sim_url}/",
                "PICOTEMP_LISTEN": f"127.0.0.1:{ports.picotemp_exporter}",
            },
            ready_url=f"{exporter_url}/healthz",
            show={"Pico W exporter": f"{exporter_url}/metrics"},
        ),
        Service(
            name="dome",
            argv=[str(bin_dir / "dome"), "serve", "--sim", f"--listen=127.0.0.1:{ports.dome}"],
            env={
                "DOME_API_TOKEN": api_token,
                "DOME_STATE_DIR": str(state / "dome"),
                "DOME_SOCKET_PATH": str(state / "dome" / "control.sock"),
                # Discovery answers only on this machine: the local lab is not for the LAN.
                "DOME_ALPACA_DISCOVERY_HOST": "127.0.0.1",
                "DOME_ALPACA_DISCOVERY_PORT": str(ports.dome_discovery),
            },
            ready_url=f"{dome_url}/healthz",
            show={"Dome controller": f"{dome_url}/", "Dome API": f"{dome_url}/docs"},
        ),
        Service(
            name="daq",
            argv=[
                str(bin_dir / "daq"),
                "serve",
                "--sim",
                f"--sim-dir={state / 'daq'}",
                f"--listen=127.0.0.1:{ports.daq}",
            ],
            env={"DAQ_API_TOKEN": api_token},
            ready_url=f"{daq_url}/healthz",
            show={"Instrument daemon": f"{daq_url}/docs"},
        ),
        Service(
            name="prometheus",
            argv=[
                prometheus_bin,
                f"--config.file={state / 'prometheus.yml'}",
                f"--storage.tsdb.path={state / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{ports.prometheus}",
                "--storage.tsdb.retention.time=1d",
            ],
            ready_url=f"{prometheus_url}/-/ready",
            show={
                "Prometheus": prometheus_url,
                "Alerts": f"{prometheus_url}/alerts",
                "Temperature graph": f"{prometheus_url}/graph?g0.expr=pico_temperature&g0.tab=0",
            },
        ),
    ]
