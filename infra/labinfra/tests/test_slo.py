"""The objectives file -> burn-rate rules generator (labinfra.monitoring.slo).

Pure functions on the real objectives file and on small variants of it; promtool tests of
the generated rules run from infra/monitoring/rules/tests/integrations-slo.test.yml.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from labinfra.monitoring.slo import (
    OBJECTIVES,
    RULES,
    ObjectivesError,
    duration_seconds,
    generate_rules,
    load_objectives,
    main,
    render,
)


def _alerts(doc: dict[str, object], name: str) -> list[dict[str, object]]:
    groups = doc["groups"]
    assert isinstance(groups, list)
    return [r for g in groups for r in g["rules"] if r.get("alert") == name]


def test_committed_rules_are_what_the_objectives_give() -> None:
    assert RULES.read_text(encoding="utf-8") == render(load_objectives(OBJECTIVES)), (
        "run `uv run labinfra-slo` and commit the result"
    )
    assert main(["--check"]) == 0


def test_the_workbook_windows_and_thresholds() -> None:
    doc = generate_rules(load_objectives(OBJECTIVES))
    burns = [a for a in _alerts(doc, "IntegrationErrorBudgetBurn") if "proxmox" in str(a)]
    table = [
        (a["labels"]["severity"], a["labels"]["long_window"], a["labels"]["short_window"])  # type: ignore[index]
        for a in burns
    ]
    assert table == [("critical", "1h", "5m"), ("critical", "6h", "30m"), ("warning", "3d", "6h")]
    # 99.9 % leaves 0.1 %: 14.4x, 6x and 1x of it, on both windows of each alert.
    assert [a["expr"].count("> 0.0144") for a in burns] == [2, 0, 0]  # type: ignore[union-attr]
    assert burns[1]["expr"].count("> 0.006") == 2  # type: ignore[union-attr]
    assert burns[2]["expr"].count("> 0.001") == 2  # type: ignore[union-attr]
    records = [r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r]  # type: ignore[attr-defined]
    for window in ("5m", "30m", "1h", "6h", "3d"):
        assert f"lab_integration:probe_errors:ratio_avg{window}" in records


def test_one_objective_changes_only_its_integration(tmp_path: Path) -> None:
    data = yaml.safe_load(OBJECTIVES.read_text())
    data["integrations"]["home-assistant"]["availability"] = 0.99
    data["integrations"]["home-assistant"]["api_latency_seconds"] = 1.5
    path = tmp_path / "objectives.yml"
    path.write_text(yaml.safe_dump(data))
    doc = generate_rules(load_objectives(path))
    burns = {
        (str(a["labels"]["slo"]), str(a["labels"]["long_window"])): str(a["expr"])  # type: ignore[index]
        for a in _alerts(doc, "IntegrationErrorBudgetBurn")
    }
    assert "> 0.144" in burns[("home-assistant-availability", "1h")]
    assert "> 0.0144" in burns[("proxmox-availability", "1h")]
    slow = {str(a["labels"]["slo"]): str(a["expr"]) for a in _alerts(doc, "IntegrationApiSlow")}  # type: ignore[index]
    assert slow["home-assistant-api-latency"].endswith("> 1.5")
    assert slow["truenas-api-latency"].endswith("> 0.5")


def test_storage_alert_only_for_integrations_with_a_storage_objective(tmp_path: Path) -> None:
    data = yaml.safe_load(OBJECTIVES.read_text())
    doc = generate_rules(load_objectives(OBJECTIVES))
    assert [a["labels"]["slo"] for a in _alerts(doc, "StorageLatencyHigh")] == [  # type: ignore[index]
        "truenas-storage-latency"
    ]
    del data["integrations"]["truenas"]["storage_latency_seconds"]
    path = tmp_path / "objectives.yml"
    path.write_text(yaml.safe_dump(data))
    assert _alerts(generate_rules(load_objectives(path)), "StorageLatencyHigh") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["integrations"]["proxmox"].update(availability=1.5), "availability"),
        (lambda d: d["integrations"]["proxmox"].update(availabilty=0.99), "availabilty"),
        (lambda d: d["burn_rates"][0].update(long="1 hour"), "not a duration"),
        (lambda d: d["burn_rates"][0].update(short="2h"), "must be shorter"),
        (
            lambda d: d["integrations"].update({"Home Assistant": d["integrations"]["proxmox"]}),
            "lower-case",
        ),
        (lambda d: d.pop("burn_rates"), "burn_rates"),
    ],
)
def test_bad_objectives_are_refused_with_the_key_named(
    tmp_path: Path, change: object, message: str
) -> None:
    data = yaml.safe_load(OBJECTIVES.read_text())
    change(data)  # type: ignore[operator]
    path = tmp_path / "objectives.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ObjectivesError, match=message):
        load_objectives(path)
    out = tmp_path / "rules.yml"
    assert main(["--objectives", str(path), "--out", str(out)]) == 2
    assert not out.exists(), "a bad objectives file writes nothing"


def test_durations() -> None:
    assert [duration_seconds(d) for d in ("30s", "5m", "6h", "3d")] == [30, 300, 21600, 259200]
    with pytest.raises(ValueError, match="not a duration"):
        duration_seconds("5 m")


def test_generated_rules_pass_promtool(tmp_path: Path) -> None:
    """promtool (Debian's prometheus package) accepts what the generator writes."""
    out = tmp_path / "slo.rules.yml"
    assert main(["--out", str(out)]) == 0
    done = subprocess.run(
        ["promtool", "check", "rules", str(out)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
