"""Every Helm values key the lab sets, checked against the pinned chart's own values.yaml.

The values files are vendored from each chart's repository at the pinned tag
(labinfra.upstream, with their sources); this module is what the tests call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labinfra.upstream import chart_short_name, unknown_values_keys, value_paths

__all__ = ["chart_short_name", "unverified_values_keys", "value_paths"]


def unverified_values_keys(chart: str, version: str, values: Mapping[str, Any]) -> list[str]:
    """One line per values key of `chart` `version` that its vendored values.yaml lacks."""
    return unknown_values_keys(chart, version, values)
