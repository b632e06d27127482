"""Recorded inputs of a bridged Pulumi provider's resources, checked against its schema.

The mocks accept any input (a misspelt `vmid` for `vmId` passes silently), and mypy only
sees the Python SDK's argument names, not nested dicts. So, for a provider whose plugin
cannot run here (pulumi-proxmoxve), two checks:

- the provider's own Pulumi schema (`schema.json`, vendored subset under
  labinfra/schemas/pulumi with its source): property names, required inputs, and types
  (string, integer, number, boolean, array, map, object types by `$ref`), recursively;
- the installed, pinned Python SDK: every key must be one of the wire names its input
  types declare (`@pulumi.getter(name=...)`), so a key the pinned version does not know
  fails even where the vendored schema is of an older release.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "pulumi"


@dataclass(frozen=True)
class PulumiSchema:
    data: Mapping[str, Any]

    @property
    def package(self) -> str:
        return str(self.data["name"])

    def resource(self, token: str) -> Mapping[str, Any] | None:
        if token == f"pulumi:providers:{self.package}":
            return self.data["provider"]  # type: ignore[no-any-return]
        return self.data["resources"].get(token)  # type: ignore[no-any-return]

    def type_(self, ref: str) -> Mapping[str, Any]:
        return self.data["types"][ref.removeprefix("#/types/")]  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=4)
def load_schema(name: str) -> PulumiSchema:
    return PulumiSchema(json.loads((SCHEMAS / name).read_text(encoding="utf-8")))


def validate_inputs(
    schema: PulumiSchema, token: str, inputs: Mapping[str, Any], *, provider: bool = False
) -> list[str]:
    """Problems of `inputs` (recorded, wire form) for the resource `token`."""
    resource = schema.resource(token)
    if resource is None:
        return [f"{token}: not a resource of the vendored {schema.package} schema"]
    body = {k: v for k, v in inputs.items() if not k.startswith("__") and k != "version"}
    return list(
        _check_object(
            schema,
            body,
            resource["inputProperties"],
            resource.get("requiredInputs") or [],
            "",
            # Provider inputs reach the engine as strings (Pulumi serialises config).
            lenient_scalars=provider,
        )
    )


def _check_object(
    schema: PulumiSchema,
    value: Mapping[str, Any],
    properties: Mapping[str, Any],
    required: list[str],
    path: str,
    *,
    lenient_scalars: bool,
) -> Iterator[str]:
    for key in sorted(set(required) - set(value)):
        yield f"{path or '<root>'}: required input {key!r} missing"
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        spec = properties.get(key)
        if spec is None:
            yield f"{where}: unknown input (not in the schema)"
            continue
        yield from _check_value(schema, item, spec, where, lenient_scalars=lenient_scalars)


_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def _check_value(
    schema: PulumiSchema, value: Any, spec: Mapping[str, Any], path: str, *, lenient_scalars: bool
) -> Iterator[str]:
    if value is None:
        return
    if "$ref" in spec:
        ref = spec["$ref"]
        if ref.startswith("pulumi.json#"):
            return  # Any / Archive / Asset
        target = schema.type_(ref)
        if not isinstance(value, Mapping):
            kind = ref.rsplit(":", 1)[-1]
            yield f"{path}: expected an object ({kind}), got {type(value).__name__}"
            return
        yield from _check_object(
            schema,
            value,
            target.get("properties") or {},
            target.get("required") or [],
            path,
            lenient_scalars=lenient_scalars,
        )
        return
    kind = spec.get("type")
    if kind == "array":
        if not isinstance(value, list):
            yield f"{path}: expected a list, got {type(value).__name__}"
            return
        for i, item in enumerate(value):
            yield from _check_value(
                schema, item, spec["items"], f"{path}[{i}]", lenient_scalars=lenient_scalars
            )
    elif kind == "object":
        if not isinstance(value, Mapping):
            yield f"{path}: expected a map, got {type(value).__name__}"
            return
        for key, item in value.items():
            yield from _check_value(
                schema,
                item,
                spec.get("additionalProperties") or {},
                f"{path}.{key}",
                lenient_scalars=lenient_scalars,
            )
    elif kind in _SCALARS:
        allowed = _SCALARS[kind]
        if lenient_scalars and isinstance(value, str):
            return
        if isinstance(value, bool) and kind != "boolean":
            yield f"{path}: expected {kind}, got a boolean"
        elif not isinstance(value, allowed):
            yield f"{path}: expected {kind}, got {type(value).__name__} {value!r}"


# -- the installed SDK's names -------------------------------------------------------------


def sdk_wire_names(module: str, args_class: str) -> frozenset[str]:
    """Wire names of one input type of the installed SDK (e.g. `VmLegacyCloneArgs`)."""
    cls = getattr(importlib.import_module(module), args_class)
    # pulumi.getter(name=...) records the wire name on the getter.
    return frozenset(
        str(getattr(v.fget, "_pulumi_name"))  # noqa: B009 (a private attribute, read on purpose)
        for v in vars(cls).values()
        if isinstance(v, property) and hasattr(v.fget, "_pulumi_name")
    )


def sdk_class_for(token: str, sdk: str) -> tuple[str, str]:
    """(module, class) of the SDK input type for a schema type or resource token.

    `proxmoxve:index/vmLegacy:VmLegacy` -> (`pulumi_proxmoxve`, `VmLegacyArgs`);
    `proxmoxve:backup/JobFleecing:JobFleecing` -> (`pulumi_proxmoxve.backup`, `JobFleecingArgs`);
    `pulumi:providers:proxmoxve` -> (`pulumi_proxmoxve`, `ProviderArgs`).
    """
    if token.startswith("pulumi:providers:"):
        return sdk, "ProviderArgs"
    _, middle, name = token.split(":")
    module = middle.split("/", 1)[0]
    return (sdk if module == "index" else f"{sdk}.{module}"), f"{name}Args"


def sdk_problems(
    schema: PulumiSchema, token: str, inputs: Mapping[str, Any], sdk: str
) -> list[str]:
    """Keys of `inputs` (recursively, through the schema's types) that the installed SDK's
    input types do not declare."""
    resource = schema.resource(token)
    if resource is None:
        return [f"{token}: unknown resource"]
    body = {k: v for k, v in inputs.items() if not k.startswith("__") and k != "version"}
    return list(_sdk_walk(schema, token, body, resource["inputProperties"], sdk, ""))


def _sdk_walk(
    schema: PulumiSchema,
    token: str,
    value: Mapping[str, Any],
    properties: Mapping[str, Any],
    sdk: str,
    path: str,
) -> Iterator[str]:
    module, cls = sdk_class_for(token, sdk)
    names = sdk_wire_names(module, cls)
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in names:
            yield f"{where}: not an input of {module}.{cls} (the pinned SDK)"
            continue
        spec = properties.get(key) or {}
        yield from _sdk_nested(schema, item, spec, sdk, where)


def _sdk_nested(
    schema: PulumiSchema, item: Any, spec: Mapping[str, Any], sdk: str, path: str
) -> Iterator[str]:
    ref = spec.get("$ref") or (spec.get("items") or {}).get("$ref")
    if not ref or ref.startswith("pulumi.json#"):
        return
    target_token = ref.removeprefix("#/types/")
    target = schema.type_(ref)
    values = item if isinstance(item, list) else [item]
    for i, element in enumerate(values):
        if isinstance(element, Mapping):
            yield from _sdk_walk(
                schema,
                target_token,
                element,
                target.get("properties") or {},
                sdk,
                f"{path}[{i}]" if isinstance(item, list) else path,
            )
