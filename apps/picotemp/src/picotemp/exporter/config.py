"""The exporter's settings: environment first, then an optional YAML file (``--config``)."""

from __future__ import annotations

from typing import Literal

from labkit.listen import Listen, ListenAddress
from labkit.settings import ServiceSettings
from pydantic import Field, HttpUrl
from pydantic_settings import SettingsConfigDict


class ExporterSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PICOTEMP_", extra="forbid", frozen=True, validate_default=True
    )

    server_url: HttpUrl = Field(validation_alias="PICO_SERVER_URL")
    """The Pico's reading, e.g. ``http://picotemp.lan/`` (``PICO_SERVER_URL``, required)."""
    listen: Listen = ListenAddress.parse("0.0.0.0:3030")
    """Where ``/metrics`` and ``/healthz`` are served (``PICOTEMP_LISTEN``)."""
    cache_seconds: float = Field(default=2.0, gt=0, le=3600)
    """One upstream request serves every scrape for this long (``PICOTEMP_CACHE_SECONDS``)."""
    timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    """Whole upstream request deadline, connect to last byte (``PICOTEMP_TIMEOUT_SECONDS``)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """``PICOTEMP_LOG_LEVEL``."""
