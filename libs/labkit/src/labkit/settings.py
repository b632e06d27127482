"""Typed settings from the environment and an optional YAML file, with readable errors.

An app subclasses :class:`ServiceSettings` with its own ``env_prefix`` and loads it with
:func:`load_settings`. Precedence, highest first: the environment, secrets from systemd
credentials (``$CREDENTIALS_DIRECTORY``, one file per setting, named like its
environment variable: ``LoadCredential=DOME_API_TOKEN:...``), the YAML file, the defaults.
A bad or missing value raises :class:`ConfigError`, whose message names the variable as the
operator writes it (``PICO_SERVER_URL``), not pydantic's field path.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

EXIT_CONFIG = 2
"""Exit status for a configuration error: systemd's ``RestartPreventExitStatus=2`` stops
a unit from restarting in a loop on a config it can never start with."""

_config_file: ContextVar[Path | None] = ContextVar("labkit_config_file", default=None)


class ConfigError(Exception):
    """The settings cannot be used; the message says which and why, one problem a line."""


class ServiceSettings(BaseSettings):
    """Base for an app's settings. Subclasses set ``model_config = SettingsConfigDict(
    env_prefix="APP_")`` and declare typed fields; secrets are ``SecretStr`` with no default."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, validate_default=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        credentials = os.environ.get("CREDENTIALS_DIRECTORY")
        if credentials:
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=credentials))
        path = _config_file.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


S = TypeVar("S", bound=ServiceSettings)


def env_name(settings_cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets ``field`` (its alias if it has one)."""
    info = settings_cls.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    if info is not None and isinstance(info.alias, str):
        return info.alias
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _describe(settings_cls: type[BaseSettings], error: Any) -> str:
    loc = [str(part) for part in error["loc"]]
    if not loc:
        return str(error["msg"])
    # pydantic reports a field that has an alias by its alias, which is already the name.
    name = env_name(settings_cls, loc[0]) if loc[0] in settings_cls.model_fields else loc[0]
    where = ".".join([name, *loc[1:]])
    if error["type"] == "missing":
        return f"{where}: required but not set"
    if error["type"] == "extra_forbidden":
        return f"{loc[0]}: unknown setting (check its spelling)"
    value = error.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    return f"{where}: {error['msg']}{shown}"


def load_settings(settings_cls: type[S], config_file: Path | None = None) -> S:
    """Build ``settings_cls`` from the environment and, if given, a YAML file."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file}: not found")
    token = _config_file.set(config_file)
    try:
        return settings_cls()
    except ValidationError as exc:
        lines = [_describe(settings_cls, err) for err in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
    finally:
        _config_file.reset(token)
