"""TrueNAS: no TrueNAS and no simulator can run here, and graphite_exporter is in none of
the registries this project installs from (Debian bookworm, PyPI, npm). What this checks
against instead:

- the exact plaintext lines TrueNAS SCALE sends, built with netdata's Graphite format
  (netdata exporting/graphite/graphite.c: "%s.%s.%s.%s %0.7Lf %llu\\n" of prefix, hostname,
  chart, dimension, value, time) and TrueNAS's own chart names (truenas/middleware,
  truenas_disk_stats.chart.py), cited in infra/monitoring/graphite/truenas-mapping.yml;
- graphite_exporter's glob matching, re-implemented from prometheus/statsd_exporter's
  documented mapping semantics (a `*` matches one dot-free, non-empty path component;
  `$n` is the n-th match; first matching rule wins) — our code, not the real exporter;
- the resulting series evaluated by the real promtool against the generated storage
  latency rules, so the alert reads series that the mapping produces.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from labinfra.monitoring.slo import RULES

MAPPING = Path(__file__).resolve().parents[2] / "infra" / "monitoring" / "graphite"
MAPPING_FILE = MAPPING / "truenas-mapping.yml"


def netdata_line(prefix: str, host: str, chart: str, dimension: str, value: float, t: int) -> str:
    """One line as netdata's Graphite connector formats it (CALCULATED_NUMBER_FORMAT %0.7Lf)."""
    return f"{prefix}.{host}.{chart}.{dimension} {value:0.7f} {t}\n"


def sanitise(name: str) -> str:
    """netdata's exporting_name_copy: anything but letters, digits and dots becomes _."""
    return re.sub(r"[^A-Za-z0-9.]", "_", name)


def glob_rules() -> list[tuple[re.Pattern[str], dict[str, object]]]:
    rules = []
    for mapping in yaml.safe_load(MAPPING_FILE.read_text())["mappings"]:
        parts = [r"([^.]+)" if p == "*" else re.escape(p) for p in mapping["match"].split(".")]
        rules.append((re.compile(r"^" + r"\.".join(parts) + r"$"), mapping))
    return rules


def map_line(line: str) -> tuple[str, dict[str, str], float] | None:
    path, value, _time = line.split()
    for pattern, mapping in glob_rules():
        match = pattern.match(path)
        if match:
            groups = match.groups()
            labels = {
                k: re.sub(r"\$(\d+)", lambda m, g=groups: g[int(m.group(1)) - 1], str(v))
                for k, v in mapping["labels"].items()
            }
            return str(mapping["name"]), labels, float(value)
    return None  # strict match: dropped


DISK = sanitise("{serial_lunid}S3Z8NB0K123456_5002538e4095b8a1")


def truenas_lines(busy_ms: float, read_ops: float, write_ops: float, t: int) -> list[str]:
    """What TrueNAS (prefix "scale", namespace "nas") sends for one disk each second."""
    chart = "truenas_disk_stats"
    return [
        netdata_line("scale", "nas", f"{chart}.io.{DISK}", "reads", 512.0, t),
        netdata_line("scale", "nas", f"{chart}.io.{DISK}", "writes", 128.0, t),
        netdata_line("scale", "nas", f"{chart}.ops.{DISK}", "read_ops", read_ops, t),
        netdata_line("scale", "nas", f"{chart}.ops.{DISK}", "write_ops", write_ops, t),
        netdata_line("scale", "nas", f"{chart}.busy.{DISK}", "busy", busy_ms, t),
        # Other charts TrueNAS sends: not mapped, dropped.
        netdata_line("scale", "nas", "truenas_cpu_usage.cpu", "cpu0", 3.5, t),
        netdata_line("scale", "nas", "net.enp1s0", "received", 100.0, t),
    ]


def test_the_lines_truenas_sends_map_to_the_series_the_rules_read() -> None:
    lines = truenas_lines(busy_ms=150.0, read_ops=6.0, write_ops=4.0, t=1764000000)
    assert lines[3] == (
        "scale.nas.truenas_disk_stats.ops._serial_lunid_S3Z8NB0K123456_5002538e4095b8a1"
        ".write_ops 4.0000000 1764000000\n"
    )
    mapped = [m for m in (map_line(line) for line in lines) if m]
    nas = {"truenas_host": "nas", "disk": DISK}
    assert mapped == [
        ("truenas_disk_io_kibibytes", {**nas, "direction": "reads"}, 512.0),
        ("truenas_disk_io_kibibytes", {**nas, "direction": "writes"}, 128.0),
        ("truenas_disk_operations", {**nas, "op": "read_ops"}, 6.0),
        ("truenas_disk_operations", {**nas, "op": "write_ops"}, 4.0),
        ("truenas_disk_busy_milliseconds", nas, 150.0),
    ]
    rules = RULES.read_text()
    for name in ("truenas_disk_operations", "truenas_disk_busy_milliseconds"):
        assert name in rules


def test_a_prefix_or_chart_the_mapping_does_not_know_is_dropped() -> None:
    assert map_line("scale.nas.disk_await.sda.reads 3.0000000 1764000000") is None
    assert map_line("nas.truenas_disk_stats.ops.sda.read_ops 3.0 1764000000") is None


def test_storage_rule_on_mapped_series_in_promtool(tmp_path: Path) -> None:
    """Series made from TrueNAS's lines, through the mapping, into the generated rule."""
    slow = [map_line(line) for line in truenas_lines(150.0, 6.0, 4.0, 0)]
    series = []
    for item in slow:
        if item is None:
            continue
        name, labels, value = item
        labels = {
            "job": "truenas-graphite",
            "instance": "graphite-exporter:9108",
            "lab_integration": "truenas",
            **labels,
        }
        selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
        series.append({"series": f"{name}{{{selector}}}", "values": f"{value}x40"})
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "30s",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": "lab_integration:truenas_disk_service_time_seconds:avg5m",
                        "eval_time": "10m",
                        "exp_samples": [
                            {
                                "labels": (
                                    "lab_integration:truenas_disk_service_time_seconds:avg5m"
                                    '{job="truenas-graphite",instance="graphite-exporter:9108",'
                                    f'lab_integration="truenas",truenas_host="nas",disk="{DISK}"}}'
                                ),
                                "value": 0.015,
                            }
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "truenas.test.yml"
    path.write_text(yaml.safe_dump(test))
    done = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
