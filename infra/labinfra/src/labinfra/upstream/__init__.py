"""Upstream charts' own values.yaml files, vendored, and the facts checked in their templates.

`charts/<chart>/<version>/values.yaml` is the chart's values.yaml copied unchanged from its
repository at the pinned tag; `chart.yaml` beside it records where it comes from (repository,
path, tag, commit, licence), the subcharts its values feed, the keys its templates read that
values.yaml only mentions in comments, and facts read in its templates. Nothing here is
written by hand except chart.yaml, and every fact in it names the template it was read in.

Helm ignores a values key no template reads, so a typo or a key renamed between versions
fails silently on the cluster: `unknown_values_keys` checks every key the lab sets against
the vendored file of the exact pinned version.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CHARTS_DIR = Path(__file__).resolve().parent / "charts"


class VendoredChartMissingError(LookupError):
    """No vendored values.yaml for this chart and version: vendor it before pinning it."""


@dataclass(frozen=True)
class VendoredChart:
    name: str
    version: str
    folder: Path
    source: Mapping[str, str]
    values: Mapping[str, Any]
    app_version: str = ""
    subcharts: Mapping[str, str] = field(default_factory=dict)
    """values key -> `<chart>/<version>` of the subchart those values go to."""
    read_by_templates: frozenset[str] = frozenset()
    free_form: frozenset[str] = frozenset()
    facts: tuple[str, ...] = ()
    subcharts_enabled_by: Mapping[str, str] = field(default_factory=dict)
    images_enabled_by: Mapping[str, Mapping[str, list[str]]] = field(default_factory=dict)
    """Image path -> {all: [...]} or {any: [...]} of values that deploy it."""


def chart_short_name(chart: str) -> str:
    """`loki` for `loki`, `gha-runner-scale-set` for `oci://ghcr.io/.../gha-runner-scale-set`."""
    return chart.rstrip("/").rsplit("/", 1)[-1]


@functools.lru_cache(maxsize=64)
def vendored_chart(name: str, version: str) -> VendoredChart:
    folder = CHARTS_DIR / chart_short_name(name) / version
    values_file = folder / "values.yaml"
    meta_file = folder / "chart.yaml"
    if not values_file.is_file() or not meta_file.is_file():
        raise VendoredChartMissingError(
            f"{chart_short_name(name)} {version}: no vendored values.yaml and chart.yaml under "
            f"{folder} (copy values.yaml from the chart's repository at the pinned tag and "
            "record its source in chart.yaml)"
        )
    meta = yaml.safe_load(meta_file.read_text(encoding="utf-8"))
    return VendoredChart(
        name=str(meta["chart"]),
        version=str(meta["version"]),
        folder=folder,
        source=meta["source"],
        values=yaml.safe_load(values_file.read_text(encoding="utf-8")) or {},
        app_version=str(meta.get("appVersion") or ""),
        subcharts=meta.get("subcharts") or {},
        read_by_templates=frozenset(e["key"] for e in meta.get("read_by_templates") or []),
        free_form=frozenset(e["key"] for e in meta.get("free_form") or []),
        facts=tuple(meta.get("facts") or ()),
        subcharts_enabled_by=meta.get("subcharts_enabled_by") or {},
        images_enabled_by=meta.get("images_enabled_by") or {},
    )


def vendored_charts() -> list[VendoredChart]:
    return [
        vendored_chart(folder.parent.name, folder.name)
        for folder in sorted(CHARTS_DIR.glob("*/*"))
        if (folder / "values.yaml").is_file()
    ]


def value_paths(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of every leaf; lists and scalars are leaves, empty maps too."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from value_paths(value, f"{path}.")
        else:
            yield path


def _known(chart: VendoredChart, path: str) -> bool:
    parts = path.split(".")
    prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    if prefixes & (chart.read_by_templates | chart.free_form):
        return True
    if parts[0] in chart.subcharts and len(parts) > 1:
        name, version = chart.subcharts[parts[0]].split("/", 1)
        if _known(vendored_chart(name, version), ".".join(parts[1:])):
            return True
    return _in_tree(chart.values, parts)


def _in_tree(node: Any, parts: list[str]) -> bool:
    for part in parts:
        if node is None or node == {}:
            return True  # an empty map (resources: {}, podSecurityContext: {}) takes any key
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def unknown_values_keys(chart: str, version: str, values: Mapping[str, Any]) -> list[str]:
    """One line per key of `values` that `chart` `version`'s vendored values.yaml (with its
    subcharts' and the keys its templates were checked to read) does not have."""
    try:
        vendored = vendored_chart(chart, version)
    except VendoredChartMissingError as exc:
        return [str(exc)]
    return [
        f"{vendored.name} {version}: values key {path!r} is not in the chart's values.yaml "
        f"({vendored.source['repository']} {vendored.source['path']} at {vendored.source['tag']})"
        for path in value_paths(values)
        if not _known(vendored, path)
    ]


def merged_values(chart: str, version: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The values Helm renders the chart with: the chart's defaults with `values` over them
    (maps merge key by key; a list or scalar in `values` replaces the default whole)."""
    return _merge(copy.deepcopy(dict(vendored_chart(chart, version).values)), values)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


@dataclass(frozen=True)
class ImageRef:
    path: str
    """Where in the values: `image` (repository+tag map) or `...containers[0].image`."""
    reference: str
    """`repository:tag`, with `<appVersion>` where the chart defaults the tag to it."""

    @property
    def floating(self) -> bool:
        """Never pinned: tag `latest`, or no tag at all."""
        name = self.reference.rsplit("/", 1)[-1]
        return ":" not in name or name.endswith(":latest")


def image_references(values: Mapping[str, Any], app_version: str = "") -> list[ImageRef]:
    """Every image the values name: maps with `repository` (and `tag`), and strings under an
    `image` key (pod templates inside values). An empty tag is the chart's appVersion."""
    found: list[ImageRef] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            repository = node.get("repository")
            registry = node.get("registry")
            if not repository and isinstance(registry, str) and "/" in registry:
                # democratic-csi's charts name the whole repository `registry`
                # (`<image.registry>:<image.tag>`, its templates/_helpers.tpl).
                repository, registry = registry, None
            if isinstance(repository, str) and repository and "tag" in node:
                name = f"{registry}/{repository}" if registry else repository
                tag = str(node.get("tag") or "") or f"<appVersion {app_version or '?'}>"
                found.append(ImageRef(path or "<root>", f"{name}:{tag}"))
            for key, value in node.items():
                child = f"{path}.{key}" if path else str(key)
                if key == "image" and isinstance(value, str) and value:
                    found.append(ImageRef(child, value))
                else:
                    walk(value, child)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    walk(values, "")
    return found


def _value(values: Mapping[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _deployed(chart: VendoredChart, image_path: str, values: Mapping[str, Any]) -> bool:
    guard = chart.images_enabled_by.get(image_path)
    if guard is None:
        return True  # no recorded condition: treat as always deployed
    if "all" in guard:
        return all(bool(_value(values, p)) for p in guard["all"])
    return any(bool(_value(values, p)) for p in guard.get("any", []))


def floating_images(chart: str, version: str, values: Mapping[str, Any]) -> list[str]:
    """Images the release would run at `latest` (or untagged): the chart's defaults merged
    with `values`, in every subchart the release deploys, minus components it does not
    deploy (the conditions checked in the templates, chart.yaml `images_enabled_by`)."""
    vendored = vendored_chart(chart, version)
    merged = merged_values(chart, version, values)
    found = [
        f"{vendored.name} {version}: {ref.path} = {ref.reference}"
        for ref in image_references(merged, vendored.app_version)
        if ref.floating
        and ref.path.split(".", 1)[0] not in vendored.subcharts
        and _deployed(vendored, ref.path, merged)
    ]
    for key, ref in vendored.subcharts.items():
        condition = vendored.subcharts_enabled_by.get(key)
        if condition is not None and not _value(merged, condition):
            continue
        name, sub_version = ref.split("/", 1)
        found += [
            f"{vendored.name} {version} > {line}"
            for line in floating_images(name, sub_version, merged.get(key) or {})
        ]
    return found
