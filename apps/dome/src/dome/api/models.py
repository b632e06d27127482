"""Typed request and response bodies of the native API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Azimuth = Field(
    ge=0, lt=360, allow_inf_nan=False, strict=True, description="degrees, 0 north, 90 east"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GotoRequest(_Strict):
    azimuth: float = Azimuth


class SyncRequest(_Strict):
    azimuth: float = Azimuth


class PositionRequest(_Strict):
    azimuth: float | None = Field(
        default=None,
        ge=0,
        lt=360,
        allow_inf_nan=False,
        strict=True,
        description="omit to use where the dome points now",
    )


class JogRequest(_Strict):
    degrees: float = Field(
        ge=-360, le=360, allow_inf_nan=False, strict=True, description="+ clockwise; not 0"
    )


class ContinuousRequest(_Strict):
    direction: Literal[1, -1] = Field(description="+1 clockwise, -1 anticlockwise")


class TrackRequest(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    ra_deg: float | None = Field(default=None, ge=0, lt=360, allow_inf_nan=False, strict=True)
    dec_deg: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False, strict=True)


class Accepted(BaseModel):
    accepted: bool = True
    command: str


class ContinuousAccepted(Accepted):
    renew_within_s: float = Field(description="post again within this time, or it stops")


class DomeStatus(BaseModel):
    state: str
    azimuth: float | None
    target: float | None
    moving: bool
    velocity_deg_s: float
    at_home: bool
    at_park: bool
    home_deg: float
    park_deg: float
    fault: str | None
    last_outcome: str | None
    encoder_counts: int | None
    frames_ok: int
    frame_errors: dict[str, int]
    tracking_azimuth: float | None
    tracking: dict[str, Any] | None
    tracking_error_deg: float | None
    loop_healthy: bool
    simulated: bool
    homing_required: str | None = None
    home_switch: bool | None = None
    deadman_s: float | None = None
    tracking_reason: str | None = None
    tracking_dead_band_deg: float | None = None
    slaved: bool = False
    can_slave: bool = False
    shutter: dict[str, Any] | None = None
    safety: dict[str, Any] | None = None


class CatalogueEntry(BaseModel):
    name: str
    ra_deg: float
    dec_deg: float
    kind: str
    aliases: list[str]
    source: str


class TrackingStatus(BaseModel):
    state: str
    target: dict[str, Any] | None
    tracking_error_deg: float | None


class Session(BaseModel):
    id: int
    kind: str
    started: float
    ended: float | None
    start_azimuth: float | None
    end_azimuth: float | None
    outcome: str | None
    detail: str | None


class Event(BaseModel):
    id: int
    at: float
    kind: str
    data: dict[str, Any]


class SimFaults(_Strict):
    stuck_encoder: bool | None = None
    parity_error_rate: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    cordic_overflow: bool | None = None
    linearity_alarm: bool | None = None
    stalled_motor: bool | None = None
    spi_error: bool | None = None
    rain: bool | None = None
    shutter_stuck: bool | None = None
    shutter_open_limit_never_trips: bool | None = None
    shutter_closed_limit_never_trips: bool | None = None
