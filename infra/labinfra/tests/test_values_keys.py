"""Every Helm values key the lab sets was checked against its pinned chart version."""

from __future__ import annotations

import pytest

from labinfra import charts
from labinfra.extras import NfsSettings, nfs_provisioner_values
from labinfra.offline.harness import StackRun
from labinfra.offline.values_keys import (
    VERIFIED_VALUES_KEYS,
    chart_short_name,
    unverified_values_keys,
    value_paths,
)

PINNED = [
    charts.KUBE_PROMETHEUS_STACK,
    charts.LOKI,
    charts.ALLOY,
    charts.ARC_CONTROLLER,
    charts.ARC_RUNNER_SET,
    charts.NFS_PROVISIONER,
]


@pytest.mark.parametrize("chart", PINNED, ids=lambda c: chart_short_name(c.name))
def test_keys_were_checked_for_the_pinned_version(chart: charts.Chart) -> None:
    verified = VERIFIED_VALUES_KEYS[chart_short_name(chart.name)]
    assert verified.version == chart.version


def test_every_recorded_release_sets_only_checked_keys(lab_runs: dict[str, StackRun]) -> None:
    releases = [r for run in lab_runs.values() for r in run.helm_releases()]
    charts_seen = {chart_short_name(r.inputs["chart"]) for r in releases}
    # The example stack turns NFS off; every other pinned chart must have been recorded.
    assert charts_seen == {chart_short_name(c.name) for c in PINNED} - {
        "nfs-subdir-external-provisioner"
    }
    problems = [
        line
        for r in releases
        for line in unverified_values_keys(
            r.inputs["chart"], r.inputs["version"], r.inputs["values"]
        )
    ]
    assert problems == []


def test_nfs_values_set_only_checked_keys() -> None:
    values = nfs_provisioner_values(
        NfsSettings(enabled=True, server="truenas.lab.internal", path="/mnt/tank/k8s")
    )
    chart = charts.NFS_PROVISIONER
    assert unverified_values_keys(chart.name, chart.version, values) == []


def test_a_misspelt_key_is_named() -> None:
    values = {"singleBinary": {"persistance": {"enabled": True}}, "deploymentMode": "x"}
    assert unverified_values_keys("loki", charts.LOKI.version, values) == [
        f"loki {charts.LOKI.version}: values key 'singleBinary.persistance.enabled' "
        "was not checked against the chart"
    ]


def test_free_form_sections_admit_their_contents() -> None:
    values = {"loki": {"limits_config": {"retention_period": "24h", "anything": {"x": 1}}}}
    assert unverified_values_keys("loki", charts.LOKI.version, values) == []


def test_a_version_bump_asks_for_a_new_check() -> None:
    (line,) = unverified_values_keys(
        charts.ARC_RUNNER_SET.name, "0.99.0", {"githubConfigUrl": "https://github.com/x"}
    )
    assert "gha-runner-scale-set 0.99.0" in line
    assert "re-check" in line


def test_an_unknown_chart_is_reported() -> None:
    assert unverified_values_keys("oci://example.org/charts/mystery", "1.0.0", {}) == [
        "mystery: no values keys were checked for this chart"
    ]


def test_value_paths_stop_at_lists_and_empty_maps() -> None:
    values = {"a": {"b": [1, {"c": 2}], "d": {}}, "e": 1}
    assert sorted(value_paths(values)) == ["a.b", "a.d", "e"]
