"""`k8s-ee.yaml`: read, validate against the JSON Schema, resolve defaults.

The schema (schema/k8s-ee.schema.json) accepts every file the original system accepts
(genesluna/k8s-ephemeral-environments, `.github/actions/validate-config/schema.json` at
ddd901c: same keys, types, patterns and defaults) and adds optional keys of ours
(`lifetime`, `apps`, `seed`). Where the original let any key through (`additionalProperties:
true` under `databases.*`) we accept the keys its reference documents
(`docs/guides/k8s-ee-config-reference.md`: `bootstrap.initSQL`,
`bootstrap.postInitApplicationSQL`) and refuse the rest, like everywhere else.

Every problem is reported, one line each: where it is (the dotted path and the line in the
file), what is wrong, what is allowed. Nothing is deployed from a file with a problem.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_FILE = "k8s-ee.schema.json"
DATABASES = ("postgresql", "mariadb", "mongodb", "redis", "minio")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a config file."""

    path: str
    """Dotted path in the file (`databases.postgresql.storage`), `<root>` for the file."""
    message: str
    line: int | None = None

    def render(self, filename: str) -> str:
        where = f"{filename}:{self.line}" if self.line else filename
        return f"{where}: {self.path}: {self.message}"


class ConfigError(ValueError):
    """The config has problems; `problems` lists every one."""

    def __init__(self, problems: Sequence[Problem], filename: str = "k8s-ee.yaml") -> None:
        self.problems = list(problems)
        self.filename = filename
        super().__init__("\n".join(p.render(filename) for p in self.problems))


@functools.cache
def schema() -> dict[str, Any]:
    text = resources.files("labpreview.schema").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    jsonschema.Draft7Validator.check_schema(data)
    return data


# --- reading YAML with line numbers and without silent duplicates ---------------------


class _Loader(yaml.SafeLoader):
    """Safe loading that refuses duplicate keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _lines(node: yaml.Node | None, path: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    if node is None:
        return
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            out[child] = key.start_mark.line + 1
            _lines(value, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, str(i)), out)


@dataclass(frozen=True)
class Loaded:
    data: Any
    lines: Mapping[tuple[str, ...], int]

    def line_of(self, path: Sequence[Any]) -> int | None:
        parts = tuple(str(p) for p in path)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), None)


def load_text(text: str) -> Loaded:
    """Parse YAML; raise ConfigError with the parser's position on bad YAML."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = f"not valid YAML: {exc.problem or exc.context}"
        raise ConfigError([Problem("<root>", message, line)]) from None
    lines: dict[tuple[str, ...], int] = {}
    _lines(node, (), lines)
    return Loaded(data, lines)


# --- turning jsonschema errors into one readable line each ----------------------------


def _dotted(path: Sequence[Any]) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def _type_name(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return type(value).__name__


_EXPECTED = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a map of keys",
    "array": "a list",
}


def _allowed(schema_node: Mapping[str, Any]) -> str:
    return str(schema_node.get("description") or f"matching {schema_node.get('pattern')}")


def _messages(error: jsonschema.ValidationError) -> Iterator[tuple[list[Any], str]]:
    """(path, message) pairs for one jsonschema error; several for several unknown keys."""
    path = list(error.absolute_path)
    kind = error.validator
    node = error.schema if isinstance(error.schema, Mapping) else {}
    value: Any = error.instance
    bound_value: Any = error.validator_value
    if kind == "additionalProperties" and isinstance(value, dict):
        known = sorted(node.get("properties", {}))
        for key in sorted(set(value) - set(known), key=str):
            allowed = ", ".join(known) if known else "none"
            yield [*path, key], f"unknown key (allowed here: {allowed})"
    elif kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        yield path, f"missing required key {missing!r}"
    elif kind == "type":
        names = [bound_value] if isinstance(bound_value, str) else list(bound_value)
        yield path, f"is {_type_name(value)}; expected {' or '.join(_EXPECTED[n] for n in names)}"
    elif kind == "pattern" and "propertyNames" in error.relative_schema_path:
        yield [*path, value], f"{value!r} is not a valid name here; expected {_allowed(node)}"
    elif kind == "pattern":
        yield path, f"{value!r} is not allowed; expected {_allowed(node)}"
    elif kind in ("minimum", "maximum"):
        bound = "at least" if kind == "minimum" else "at most"
        yield path, f"{value!r} is out of range; expected {bound} {bound_value}"
    elif kind in ("minLength", "maxLength"):
        bound = "at least" if kind == "minLength" else "at most"
        yield path, f"{value!r} has {len(value)} characters; expected {bound} {bound_value}"
    elif kind in ("minItems", "maxItems"):
        bound = "at least" if kind == "minItems" else "at most"
        yield path, f"has {len(value)} entries; expected {bound} {bound_value}"
    elif kind in ("minProperties", "maxProperties"):
        yield path, f"has {len(value)} keys; expected {_allowed(node)}"
    elif kind == "anyOf":
        # Boolean or object (the databases): explain the branch the value was meant for.
        if isinstance(value, dict) and error.context:
            for sub in error.context:
                if sub.validator != "type":
                    yield from _messages(sub)
        else:
            yield path, f"is {_type_name(value)}; expected true, false or a map of settings"
    else:
        yield path, error.message


def _semantic_problems(data: Mapping[str, Any]) -> Iterator[tuple[list[Any], str]]:
    """Rules a JSON Schema cannot say clearly."""
    databases = data.get("databases") or {}
    if _enabled(databases.get("postgresql")) and _enabled(databases.get("mariadb")):
        yield (
            ["databases", "mariadb"],
            "postgresql and mariadb are both enabled; enable only one of them",
        )
    names = [a.get("name") for a in data.get("apps") or [] if isinstance(a, dict)]
    for i, name in enumerate(names):
        if name in names[:i]:
            yield ["apps", i, "name"], f"{name!r} is used twice; app names must be unique"
        if name == "app" or name in DATABASES:
            yield ["apps", i, "name"], f"{name!r} is reserved (the main app and the databases)"
    for where, res in _resource_blocks(data):
        for kind in ("cpu", "memory"):
            request = (res.get("requests") or {}).get(kind)
            limit = (res.get("limits") or {}).get(kind)
            if request and limit and _quantity(request) > _quantity(limit):
                yield (
                    [*where, "requests", kind],
                    f"request {request} is above the limit {limit}; requests must not exceed "
                    "limits",
                )
        memory = (res.get("limits") or {}).get("memory")
        if memory and _quantity(memory) > _quantity(CONTAINER_MAX_MEMORY):
            yield (
                [*where, "limits", "memory"],
                f"{memory} is above the namespace's container maximum {CONTAINER_MAX_MEMORY}",
            )
        cpu = (res.get("limits") or {}).get("cpu")
        if cpu and _quantity(cpu) > _quantity(CONTAINER_MAX_CPU):
            yield (
                [*where, "limits", "cpu"],
                f"{cpu} is above the namespace's container maximum {CONTAINER_MAX_CPU}",
            )


CONTAINER_MAX_CPU = "1"
CONTAINER_MAX_MEMORY = "1Gi"
"""The LimitRange's container maximum (the original's `create-namespace` action: 1 CPU/1 Gi)."""


def _resource_blocks(data: Mapping[str, Any]) -> Iterator[tuple[list[Any], Mapping[str, Any]]]:
    if isinstance(data.get("resources"), dict):
        yield ["resources"], data["resources"]
    for i, extra in enumerate(data.get("apps") or []):
        if isinstance(extra, dict) and isinstance(extra.get("resources"), dict):
            yield ["apps", i, "resources"], extra["resources"]


_QUANTITY = re.compile(r"^(?P<n>[0-9]+)(?P<unit>m|Mi|Gi|Ti)?$")


def _quantity(text: str) -> float:
    """CPU in cores or memory in MiB, from the forms the schema allows."""
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"not a quantity: {text!r}")
    number = float(match["n"])
    unit = match["unit"]
    return {
        None: number,
        "m": number / 1000,
        "Mi": number,
        "Gi": number * 1024,
        "Ti": number * 1024 * 1024,
    }[unit]


def _enabled(value: Any) -> bool:
    """The original's rule: `true`, or a map unless it says `enabled: false`."""
    if isinstance(value, dict):
        return value.get("enabled", True) is not False
    return value is True


_RANK = {"type": 0, "required": 1, "maxLength": 2, "minLength": 2, "minimum": 2, "maximum": 2}


def problems_in(loaded: Loaded) -> list[Problem]:
    """Every problem of a parsed file, in file order."""
    data = loaded.data
    if data is None:
        data = {}
    validator = jsonschema.Draft7Validator(schema())
    found: list[tuple[list[Any], str]] = []
    # One line per problem: a value breaking two rules (too long and not matching the
    # pattern) is one problem; the length or range message says more than the pattern.
    ranked = sorted(validator.iter_errors(data), key=lambda e: _RANK.get(str(e.validator), 9))
    seen: set[str] = set()
    for error in ranked:
        for path, message in _messages(error):
            if _dotted(path) not in seen:
                seen.add(_dotted(path))
                found.append((path, message))
    if not found and isinstance(data, dict):
        found.extend(_semantic_problems(data))
    problems = [Problem(_dotted(path), message, loaded.line_of(path)) for path, message in found]
    return sorted(problems, key=lambda p: (p.line or 0, p.path, p.message))


# --- the resolved configuration ------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    cpu_request: str = "50m"
    memory_request: str = "128Mi"
    cpu_limit: str = "200m"
    memory_limit: str = "384Mi"


@dataclass(frozen=True)
class ImageSpec:
    context: str = "."
    dockerfile: str = "Dockerfile"
    repository: str | None = None


@dataclass(frozen=True)
class Metrics:
    enabled: bool = False
    interval: str = "30s"


@dataclass(frozen=True)
class AppSpec:
    """The main app (`name == "app"`) or one of the extra `apps`."""

    name: str
    port: int = 3000
    health_path: str = "/health"
    metrics_path: str | None = None
    image: ImageSpec = field(default_factory=ImageSpec)
    resources: Resources = field(default_factory=Resources)
    env: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    ingress: bool = False
    metrics: Metrics = field(default_factory=Metrics)


@dataclass(frozen=True)
class Database:
    kind: str
    version: str
    storage: str
    init_sql: tuple[str, ...] = ()
    post_init_application_sql: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnvFrom:
    kind: str
    """`secretRef` or `configMapRef`."""
    name: str


@dataclass(frozen=True)
class Lifetime:
    ttl_hours: int = 7 * 24
    sleep_after_hours: int | None = None


@dataclass(frozen=True)
class Seed:
    command: tuple[str, ...]
    timeout_seconds: int = 300


@dataclass(frozen=True)
class PreviewConfig:
    project_id: str
    app: AppSpec
    env_from: tuple[EnvFrom, ...] = ()
    databases: Mapping[str, Database] = field(default_factory=dict)
    ingress_enabled: bool = True
    ingress_annotations: Mapping[str, str] = field(default_factory=dict)
    lifetime: Lifetime = field(default_factory=Lifetime)
    apps: tuple[AppSpec, ...] = ()
    seed: Seed | None = None

    def all_apps(self) -> tuple[AppSpec, ...]:
        return (self.app, *self.apps)

    def enabled(self, database: str) -> bool:
        return database in self.databases


DEFAULT_VERSIONS = {"postgresql": "16", "mariadb": "11.4", "mongodb": "7.0.5"}
"""The original's defaults: schema.json (postgresql 16, mariadb 11.4) and
charts/mongodb/values.yaml (7.0.5) at ddd901c."""


def _resources(raw: Mapping[str, Any] | None) -> Resources:
    raw = raw or {}
    requests = raw.get("requests") or {}
    limits = raw.get("limits") or {}
    d = Resources()
    return Resources(
        cpu_request=requests.get("cpu", d.cpu_request),
        memory_request=requests.get("memory", d.memory_request),
        cpu_limit=limits.get("cpu", d.cpu_limit),
        memory_limit=limits.get("memory", d.memory_limit),
    )


def _image(raw: Mapping[str, Any] | None) -> ImageSpec:
    raw = raw or {}
    return ImageSpec(
        context=raw.get("context", "."),
        dockerfile=raw.get("dockerfile", "Dockerfile"),
        repository=raw.get("repository"),
    )


def _metrics(raw: Mapping[str, Any] | None) -> Metrics:
    raw = raw or {}
    return Metrics(enabled=bool(raw.get("enabled", False)), interval=raw.get("interval", "30s"))


def _hours(duration: str) -> int:
    return int(duration[:-1]) * (24 if duration.endswith("d") else 1)


def resolve(data: Mapping[str, Any]) -> PreviewConfig:
    """A validated document -> the config with every default applied."""
    app = data.get("app") or {}
    metrics = _metrics(data.get("metrics"))
    main = AppSpec(
        name="app",
        port=int(app.get("port", 3000)),
        health_path=app.get("healthPath", "/health"),
        # The original scrapes `metricsPath`, which has no default in its schema; its chart's
        # values default to /metrics (charts/k8s-ee-app/values.yaml @ddd901c).
        metrics_path=app.get("metricsPath", "/metrics"),
        image=_image(data.get("image")),
        resources=_resources(data.get("resources")),
        env=dict(data.get("env") or {}),
        command=tuple(app.get("command") or ()),
        args=tuple(app.get("args") or ()),
        ingress=True,
        metrics=metrics,
    )
    databases: dict[str, Database] = {}
    for kind in DATABASES:
        raw = (data.get("databases") or {}).get(kind, False)
        if not _enabled(raw):
            continue
        raw = raw if isinstance(raw, dict) else {}
        bootstrap = raw.get("bootstrap") or {}
        databases[kind] = Database(
            kind=kind,
            version=str(raw.get("version", DEFAULT_VERSIONS.get(kind, ""))),
            storage=raw.get("storage", "1Gi"),
            init_sql=tuple(bootstrap.get("initSQL") or ()),
            post_init_application_sql=tuple(bootstrap.get("postInitApplicationSQL") or ()),
        )
    ingress = data.get("ingress") or {}
    lifetime = data.get("lifetime") or {}
    extra = tuple(
        AppSpec(
            name=a["name"],
            port=int(a.get("port", 3000)),
            health_path=a.get("healthPath", "/health"),
            metrics_path=a.get("metricsPath", "/metrics"),
            image=_image(a.get("image")),
            resources=_resources(a.get("resources")),
            env=dict(a.get("env") or {}),
            command=tuple(a.get("command") or ()),
            args=tuple(a.get("args") or ()),
            ingress=bool(a.get("ingress", False)),
            metrics=_metrics(a.get("metrics")),
        )
        for a in data.get("apps") or []
    )
    seed = data.get("seed")
    return PreviewConfig(
        project_id=data["projectId"],
        app=main,
        env_from=tuple(
            EnvFrom(kind, ref[kind]["name"])
            for ref in data.get("envFrom") or []
            for kind in ("secretRef", "configMapRef")
            if kind in ref
        ),
        databases=databases,
        ingress_enabled=bool(ingress.get("enabled", True)),
        ingress_annotations=dict(ingress.get("annotations") or {}),
        lifetime=Lifetime(
            ttl_hours=_hours(lifetime.get("ttl", "7d")),
            sleep_after_hours=_hours(lifetime["sleepAfter"]) if "sleepAfter" in lifetime else None,
        ),
        apps=extra,
        seed=(Seed(tuple(seed["command"]), int(seed.get("timeoutSeconds", 300))) if seed else None),
    )


def validate_text(text: str, filename: str = "k8s-ee.yaml") -> PreviewConfig:
    """The resolved config, or ConfigError listing every problem."""
    try:
        loaded = load_text(text)
    except ConfigError as exc:
        raise ConfigError(exc.problems, filename) from None
    problems = problems_in(loaded)
    if problems:
        raise ConfigError(problems, filename)
    return resolve(loaded.data)


def load_config(path: Path) -> PreviewConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problem = Problem("<root>", f"cannot read the file: {exc.strerror}")
        raise ConfigError([problem], str(path)) from None
    return validate_text(text, str(path))
