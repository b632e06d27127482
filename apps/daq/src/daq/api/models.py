"""Request and response models. Static bounds live here; limits that come from
configuration (axis travel, laser range) are checked by the drivers, before any byte."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Finite = Annotated[float, Field(allow_inf_nan=False)]
RequestId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="A client's id for this request: repeating it (a retry after a lost "
        "answer) returns the first result instead of moving again",
    ),
]
ReadingName = Annotated[str, Field(min_length=1, max_length=80)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstrumentStatus(Model):
    name: str
    kind: str
    port: str
    up: bool
    last_error: str | None
    reconnects: int
    detail: dict[str, Any]


class Reading(Model):
    name: str
    value: float
    good: bool = Field(description="False when the instrument flagged the value (saturated, ...)")
    flags: list[str]
    status: int | None = Field(description="The instrument's status byte read with the value")


class Done(Model):
    ok: bool = True
    detail: str = ""


# --- ESP300 ---------------------------------------------------------------------------


class AxisMove(Model):
    position: Finite = Field(
        description="Target (absolute) or distance (relative), in the axis' units"
    )
    relative: bool = False
    wait: bool = Field(default=False, description="Answer only when the move is done")
    request_id: RequestId | None = None


class AxisHome(Model):
    mode: int = Field(default=0, ge=0, le=6, description="ESP300 home search mode")


class AxisMotion(Model):
    velocity: Finite | None = Field(default=None, gt=0)
    acceleration: Finite | None = Field(default=None, gt=0)


class AxisState(Model):
    axis: int
    position: float
    motion_done: bool
    target: float | None = None


# --- 1830-C ---------------------------------------------------------------------------


class PowerMeterSettings(Model):
    wavelength_nm: int | None = Field(default=None, ge=1, le=100_000)
    range: int | None = Field(default=None, ge=0, le=8, description="0 auto, 1-8")
    filter: int | None = Field(default=None, ge=1, le=3, description="1 slow, 2 medium, 3 none")
    attenuator: bool | None = None
    units: Literal["W", "dB", "dBm", "REL"] | None = None


class PowerMeterState(Model):
    power: float
    flags: list[str] = Field(description="Why the reading is not good: saturated, over-range")
    status_byte: int | None
    units: str
    wavelength_nm: int
    range: int
    filter: int
    attenuator: bool
    zero: bool


class Zero(Model):
    on: bool


# --- MaiTai ---------------------------------------------------------------------------


class LaserWavelength(Model):
    nm: int = Field(ge=1, le=100_000)


class LaserShutter(Model):
    open: bool
    confirm: bool = Field(default=False, description="Must be true to open")


class LaserEmission(Model):
    on: bool
    confirm: bool = Field(default=False, description="Must be true to switch emission on")


class LaserState(Model):
    phase: Literal["cold", "warming", "warm", "emitting"]
    warmup_percent: float
    emission: bool
    emission_requested: bool = Field(description="Emission follows once the warm-up is done")
    modelocked: bool
    shutter_open: bool
    wavelength_nm: float
    commanded_wavelength_nm: float
    power_w: float
    interlock_closed: bool
    watchdog_s: int


# --- ELL14 ----------------------------------------------------------------------------


class MountMove(Model):
    angle_deg: Finite
    relative: bool = False
    request_id: RequestId | None = None


class MountVelocity(Model):
    percent: int = Field(ge=0, le=100, description="Velocity as a percentage of the maximum")


class MountHome(Model):
    clockwise: bool = True


class MountJog(Model):
    forward: bool = True
    step_deg: Finite | None = Field(default=None, gt=0, le=360)


class MountState(Model):
    name: str
    address: str
    angle_deg: float
    status: int
    status_text: str
    serial: str | None
    pulses_per_revolution: int | None
    velocity_percent: int | None


# --- acquisitions and scans ----------------------------------------------------------

DataFormat = Literal["csv", "parquet", "hdf5", "arrow"]


class RunInfoModel(Model):
    operator: str = Field(default="", max_length=200)
    sample: str = Field(default="", max_length=500)
    notes: str = Field(default="", max_length=10_000)
    label: str = Field(default="", max_length=200)


class AcquisitionRequest(RunInfoModel):
    readings: list[ReadingName] = Field(min_length=1, max_length=64)
    rate_hz: Finite = Field(gt=0, le=1000)
    format: DataFormat = "csv"
    duration_s: Finite | None = Field(default=None, gt=0, le=7 * 86400)


class JobInfo(Model):
    id: str
    kind: str
    state: str
    path: str
    format: str
    readings: list[str]
    rows: int = Field(description="Rows taken")
    rows_on_disk: int = Field(description="Rows safely in the file")
    gap_rows: int = Field(description="Rows where a reading failed")
    flagged_rows: int = Field(description="Rows where a reading was flagged (saturated, ...)")
    started_at: str
    ended_at: str | None
    error: str | None


class AcquisitionInfo(JobInfo):
    rate_hz: float
    operator: str
    sample: str


class MountActuatorSpec(Model):
    type: Literal["mount"]
    name: str = Field(max_length=40)


class AxisActuatorSpec(Model):
    type: Literal["axis"]
    instrument: str = Field(max_length=40)
    axis: int = Field(ge=1, le=3)


ActuatorSpec = Annotated[MountActuatorSpec | AxisActuatorSpec, Field(discriminator="type")]


class PointRange(Model):
    start: Finite
    stop: Finite
    step: Finite = Field(description="Non-zero; its sign is taken from start → stop")


Points = Annotated[
    list[Finite] | PointRange,
    Field(description="Explicit positions (at most 10000), or a range"),
]


class ScanAxisSpec(Model):
    actuator: ActuatorSpec
    points: Points


class ScanRequest(RunInfoModel):
    actuator: ActuatorSpec | None = Field(default=None, description="1-D form: the actuator")
    points: Points | None = Field(default=None, description="1-D form: its points")
    axes: list[ScanAxisSpec] | None = Field(
        default=None,
        min_length=1,
        max_length=2,
        description="1-D or 2-D (grid, first axis outermost): each actuator with its points",
    )
    readings: list[ReadingName] = Field(min_length=1, max_length=16)
    settle_s: Finite = Field(default=0.0, ge=0, le=60)
    samples_per_point: int = Field(default=1, ge=1, le=100)
    format: DataFormat = "csv"


class ScanPointModel(Model):
    index: int
    targets: dict[str, float]
    actuals: dict[str, float]
    time: str
    values: dict[str, float]
    flags: list[str]


class ScanInfo(JobInfo):
    actuators: list[str]
    progress: float
    total_points: int
    points: list[ScanPointModel]
