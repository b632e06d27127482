"""Typed stack configuration read once, in a program's entry point.

Each project declares a pydantic model of its configuration. Keys are the model's field
names in camelCase (Pulumi's convention); objects are given as YAML maps in the stack file.
Secrets are not part of the model: they are read as `Output`s with `require_secret` so they
stay secret end to end. Every problem is reported at once, one line per key, before any
resource is created.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pulumi
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel


class StackConfigError(ValueError):
    """The stack configuration is unusable; the message names each bad key."""


class ConfigModel(BaseModel):
    """Base for config models: camelCase keys, unknown keys refused, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


M = TypeVar("M", bound=ConfigModel)

Getter = Callable[[str], str | None]


def parse_config(
    model: type[M],
    namespace: str,
    get: Getter,
    secret_keys: Sequence[str] = (),
    present_keys: Sequence[str] = (),
    allowed_keys: Sequence[str] = (),
) -> M:
    """Build `model` from raw config strings; raise StackConfigError listing every problem.

    `get(key)` returns the raw string of `namespace:key` or None. `secret_keys` are keys
    that must be set (as secrets) but are not part of the model. `present_keys` are the keys
    the stack actually sets in this namespace: any the model does not know is a typo,
    unless listed in `allowed_keys` (optional secrets read later).
    """
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        value = get(key)
        if value is None:
            continue
        raw[key] = _decode(value, info.annotation)
    known = {info.alias or name for name, info in model.model_fields.items()}
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"])
            problems.append(f"{namespace}:{path}: {err['msg']}")
        parsed = None
    for key in sorted(set(present_keys) - known - set(secret_keys) - set(allowed_keys)):
        problems.append(f"{namespace}:{key}: unknown key (not part of this project's config)")
    for key in secret_keys:
        if key in known:
            raise AssertionError(f"{key} is both a plain and a secret key")
        if get(key) is None:
            problems.append(
                f"{namespace}:{key}: missing secret (set it with "
                f"`pulumi config set --secret {key}`)"
            )
    if problems or parsed is None:
        raise StackConfigError("configuration errors:\n  " + "\n  ".join(problems))
    return parsed


def _decode(value: str, annotation: object) -> Any:
    """Config values arrive as strings; objects and lists arrive JSON-encoded."""
    if annotation is str or _optional_str(annotation):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _optional_str(annotation: object) -> bool:
    """`str | None` and other unions with str (not `list[str]`, whose args are also str)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return union and str in typing.get_args(annotation)


def read_config(
    model: type[M], secret_keys: Sequence[str] = (), allowed_keys: Sequence[str] = ()
) -> M:
    """Read the current project's config into `model` (entry points only)."""
    config = pulumi.Config()
    prefix = f"{config.name}:"
    every_key = set(pulumi.runtime.config.CONFIG.get()) | set(
        pulumi.runtime.config.get_config_env()
    )
    present = [k[len(prefix) :] for k in every_key if k.startswith(prefix)]
    return parse_config(model, config.name, config.get, secret_keys, present, allowed_keys)


def read_secrets(keys: Sequence[str]) -> dict[str, pulumi.Output[str]]:
    """The named secrets of the current project, as secret Outputs."""
    config = pulumi.Config()
    return {key: config.require_secret(key) for key in keys}
