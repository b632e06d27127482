from pathlib import Path

import yaml

from labctl.plan import Ports, prometheus_config, repo_root, rule_files, services


def test_prometheus_scrapes_the_exporter_and_loads_every_rule_file() -> None:
    root = repo_root()
    rules = rule_files(root)
    config = yaml.safe_load(prometheus_config(Ports(picotemp_exporter=4000), rules))
    assert config["rule_files"] == [str(path) for path in rules]
    assert rules, "the lab loads the repository's alert rules; there must be some"
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert targets["picotemp"] == ["127.0.0.1:4000"]
    assert targets["daq"] == ["127.0.0.1:8790"]
    assert targets["dome"] == ["127.0.0.1:8470"]


def test_exporter_is_pointed_at_the_simulator_and_started_after_it(tmp_path: Path) -> None:
    ports = Ports(prometheus=1, picotemp_sim=2, picotemp_exporter=3, daq=4, dome=5)
    plan = services(repo_root(), tmp_path, ports, "/usr/bin/prometheus", "t" * 24)
    names = [service.name for service in plan]
    assert (
        names.index("picotemp-sim") < names.index("picotemp-exporter") < names.index("prometheus")
    )
    exporter = plan[names.index("picotemp-exporter")]
    assert exporter.env == {
        "PICO_SERVER_URL": "http://127.0.0.1:2/",
        "PICOTEMP_LISTEN": "127.0.0.1:3",
    }
    daq = plan[names.index("daq")]
    assert daq.env == {"DAQ_API_TOKEN": "t" * 24}
    assert "--sim" in daq.argv
    dome = plan[names.index("dome")]
    assert dome.env["DOME_API_TOKEN"] == "t" * 24
    assert dome.env["DOME_ALPACA_DISCOVERY_HOST"] == "127.0.0.1"
    for service in plan:
        assert Path(service.argv[0]).exists(), f"{service.name}: {service.argv[0]} is missing"
