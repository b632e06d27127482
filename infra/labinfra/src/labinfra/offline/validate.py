"""Checks on a recorded stack that the mocks alone do not make.

- Kubernetes objects against the Kubernetes OpenAPI schemas (kubernetes-validate, strict:
  unknown fields are errors, which catches typos the mocks pass through silently).
- Custom resources against the CRD schemas of the pinned operator version, made strict the
  same way (the API server would silently prune an unknown field; here it is an error).
- No duplicate URNs, no `Output` formatted into a string, no unresolved values, and no
  resource on a default provider (every stack file disables them all).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from labinfra.offline.harness import OUTPUT_STR_MARKER, PROVIDER_PREFIX, Recorded, StackRun

KUBERNETES_VERSION = "1.33"
"""The Kubernetes minor version the lab runs (the pinned k3s release)."""

CRD_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "crds"
"""The vendored CRD schemas (<group>/<plural>.yaml); their sources are in schemas/README.md."""


class CrdSchemasMissingError(RuntimeError):
    """The CRD schemas folder is absent, so custom resources cannot be validated."""


@dataclass(frozen=True)
class Problem:
    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.message}"


def find_crd_schemas() -> Path:
    """The CRD schemas folder vendored in this package; its absence is an error, not a skip."""
    if not any(CRD_SCHEMAS.glob("*/*.yaml")):
        raise CrdSchemasMissingError(
            f"no CRD schemas under {CRD_SCHEMAS}: the vendored schemas are part of the "
            "repository (see labinfra/schemas/README.md); custom resources cannot be validated"
        )
    return CRD_SCHEMAS


class _CrdLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading; a bare `=` (a matcher operator in the CRDs) is YAML 1.1's value tag."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: node.value)


class CrdCatalog:
    """Strict JSON schemas of custom resources, keyed by (apiVersion, kind)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._schemas: dict[tuple[str, str], dict[str, Any]] = {}
        for path in sorted(root.glob("*/*.yaml")):
            self._load(path)

    def _load(self, path: Path) -> None:
        for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_CrdLoader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served", False):
                    continue
                api_version = f"{spec['group']}/{version['name']}"
                schema = version["schema"]["openAPIV3Schema"]
                self._schemas[(api_version, spec["names"]["kind"])] = strict_schema(schema)

    def kinds(self) -> set[tuple[str, str]]:
        return set(self._schemas)

    def validate(self, obj: Mapping[str, Any]) -> list[str]:
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        schema = self._schemas.get(key)
        if schema is None:
            return [f"no CRD schema for {key[0]} {key[1]} under {self.root}"]
        body = {k: v for k, v in obj.items() if k != "metadata"}
        validator = jsonschema.Draft7Validator(schema)
        return [
            f"{'.'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
            for err in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        ]


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAPI v3 structural schema with unknown fields forbidden where the server prunes."""
    out = copy.deepcopy(dict(schema))
    _forbid_unknown(out)
    # metadata is checked by the Kubernetes schemas (and left out of the body validated
    # here, so a CRD that lists it as required, like CloudNativePG's Cluster, must not
    # require it); status is never sent.
    out.get("properties", {}).pop("status", None)
    if "required" in out:
        out["required"] = [key for key in out["required"] if key != "metadata"]
    return out


def _forbid_unknown(node: Any) -> None:
    if isinstance(node, dict):
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            _forbid_unknown(value)
    elif isinstance(node, list):
        for value in node:
            _forbid_unknown(value)


@functools.lru_cache(maxsize=4)
def crd_catalog(root: Path) -> CrdCatalog:
    return CrdCatalog(root)


def kubernetes_object(resource: Recorded) -> dict[str, Any]:
    """The object a Kubernetes resource would send to the API server."""
    return {k: v for k, v in resource.inputs.items() if not k.startswith("__")}


def validate_objects(run: StackRun, crds: CrdCatalog) -> list[Problem]:
    """Schema problems of every Kubernetes object and custom resource in `run`."""
    problems: list[Problem] = []
    for resource in run.kubernetes_objects():
        obj = kubernetes_object(resource)
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.extend(Problem(resource.urn, m) for m in crds.validate(obj))
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "<root>"
            problems.append(Problem(resource.urn, f"{path}: {exc.message}"))
    return problems


def check_stack(run: StackRun) -> list[Problem]:
    """Engine-level problems the mocks would have let through."""
    problems = [Problem(urn, "duplicate URN") for urn in run.duplicate_urns]
    for resource in run.resources:
        for path, text in _strings(resource.inputs, ""):
            if OUTPUT_STR_MARKER in text:
                problems.append(Problem(resource.urn, f"{path}: an Output was formatted as text"))
        for path in sorted(resource.unknown_paths):
            problems.append(Problem(resource.urn, f"{path}: unknown value after preview=False"))
        if resource.custom and not resource.type.startswith(PROVIDER_PREFIX):
            package = resource.type.split(":", 1)[0]
            typ, name = _provider_of(resource.provider)
            if typ != PROVIDER_PREFIX + package or name.startswith("default"):
                problems.append(Problem(resource.urn, f"uses the default {package} provider"))
    for provider in run.of_type("pulumi:providers:kubernetes"):
        if provider.inputs.get("enableServerSideApply") not in (True, "true"):
            problems.append(Problem(provider.urn, "server-side apply is not on"))
    return problems


def secret_leaks(run: StackRun, secret_values: Mapping[str, str]) -> list[Problem]:
    """Places where a secret's value appears outside a secret input or a secret output.

    `secret_values` maps a name (for the message) to the value the secret had in this run.
    """
    problems = []
    for key, value in secret_values.items():
        for resource in run.resources:
            for path, text in _strings(resource.inputs, ""):
                if value in text and not _under(path, resource.secret_paths):
                    problems.append(Problem(resource.urn, f"{path}: secret {key} in clear"))
        for name, output in run.outputs.items():
            if name not in run.secret_outputs and value in repr(output):
                problems.append(Problem(f"output {name}", f"secret {key} in clear"))
    return problems


def _under(path: str, secret_paths: frozenset[str]) -> bool:
    return any(path == s or path.startswith((s + ".", s + "[")) for s in secret_paths)


def _provider_of(reference: str) -> tuple[str, str]:
    """(type, name) of a provider reference `urn:pulumi:stack::project::type::name::id`."""
    parts = reference.split("::")
    if len(parts) < 5:
        return "", ""
    return parts[2].split("$")[-1], parts[3]


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")
