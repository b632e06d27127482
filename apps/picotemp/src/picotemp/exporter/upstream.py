"""Reading the Pico over HTTP, with every failure named by a short reason."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ERROR_REASONS = ("timeout", "connect", "connection_lost", "http_status", "invalid_body")
"""Why an upstream request failed; the label values of ``pico_scrape_errors_total``."""


class UpstreamError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        assert reason in ERROR_REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Reading:
    celsius: float
    fahrenheit: float


class _Payload(BaseModel):
    """What the firmware's ``GET /`` answers (see ``picotemp.firmware.core.reading_json``)."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)

    temp_c: float = Field(alias="tempC")
    temp_f: float = Field(alias="tempF")


class PicoClient:
    """One ``GET`` of the Pico's reading, bounded as a whole by ``timeout_seconds``."""

    def __init__(self, url: str, timeout_seconds: float, http: httpx.AsyncClient) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds
        self._http = http

    async def fetch(self) -> Reading:
        try:
            # httpx's timeouts apply per phase; a Pico trickling bytes could outlast them,
            # so the whole request gets one deadline as well.
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._http.get(self.url, timeout=self.timeout_seconds)
        except (TimeoutError, httpx.TimeoutException):
            raise UpstreamError("timeout", f"no answer within {self.timeout_seconds} s") from None
        except httpx.ConnectError as exc:
            raise UpstreamError("connect", str(exc) or type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise UpstreamError("connection_lost", str(exc) or type(exc).__name__) from None
        if response.status_code != 200:
            raise UpstreamError("http_status", f"HTTP {response.status_code}")
        return parse_reading(response.content)


def parse_reading(body: bytes) -> Reading:
    try:
        payload = _Payload.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise UpstreamError("invalid_body", f"{where}: {first['msg']}") from None
    if not (math.isfinite(payload.temp_c) and math.isfinite(payload.temp_f)):
        raise UpstreamError("invalid_body", "temperature is not a finite number")
    return Reading(payload.temp_c, payload.temp_f)
