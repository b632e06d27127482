"""The repository's Prometheus rule files and Grafana dashboards, read as data.

The rule files are the ones `promtool test rules` tests, so the rules that run are the
rules that were tested; the dashboards are plain Grafana JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labinfra.names import dns_name

RULE_SUFFIX = ".rules.yml"


class MonitoringFileError(ValueError):
    """A rule file or dashboard cannot be deployed; the message names the file."""


@dataclass(frozen=True)
class RuleFile:
    name: str
    """From the file name: `picotemp.rules.yml` -> `picotemp`."""
    groups: list[dict[str, Any]]


@dataclass(frozen=True)
class Dashboard:
    name: str
    uid: str
    json: str


def load_rule_files(folder: Path) -> list[RuleFile]:
    """Every `*.rules.yml` in `folder`, sorted by name."""
    files = sorted(folder.glob(f"*{RULE_SUFFIX}"))
    if not files:
        raise MonitoringFileError(f"no *{RULE_SUFFIX} files in {folder}")
    out = []
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        groups = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(groups, list) or not groups:
            raise MonitoringFileError(f"{path}: expected a non-empty `groups:` list")
        for group in groups:
            if not isinstance(group, dict) or not group.get("name") or not group.get("rules"):
                raise MonitoringFileError(f"{path}: every group needs a name and rules")
        out.append(RuleFile(name=dns_name(path.name[: -len(RULE_SUFFIX)]), groups=groups))
    return out


def load_dashboards(folder: Path) -> list[Dashboard]:
    """Every `*.json` dashboard in `folder`; uids and titles must be unique."""
    out: list[Dashboard] = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise MonitoringFileError(f"{path}: not JSON: {exc}") from exc
        uid, title = data.get("uid"), data.get("title")
        if not uid or not title:
            raise MonitoringFileError(f"{path}: a dashboard needs a uid and a title")
        if any(d.uid == uid for d in out):
            raise MonitoringFileError(f"{path}: uid {uid!r} is used twice")
        # Compact JSON keeps the ConfigMap well under its 1 MiB limit.
        out.append(Dashboard(dns_name(path.stem), uid, json.dumps(data, separators=(",", ":"))))
    if not out:
        raise MonitoringFileError(f"no *.json dashboards in {folder}")
    return out


def load_graphite_mapping(path: Path) -> str:
    """graphite_exporter's mapping file as text, checked to be a mapping with `mappings`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MonitoringFileError(
            f"{path}: cannot read the graphite mapping: {exc.strerror}"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MonitoringFileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("mappings"), list):
        raise MonitoringFileError(f"{path}: expected a graphite_exporter mapping (`mappings:`)")
    return text
