"""Reply parsers and encoders, one named function each, so each is tested on its own."""

from __future__ import annotations

import re
from dataclasses import dataclass

from daq.core.errors import BadReply, ValueRefused

_FLOAT = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def parse_float(text: str) -> float:
    """``5E-9``, ``+.75E-9``, ``12.5`` → float; anything else is a BadReply."""
    if not _FLOAT.match(text):
        raise BadReply(f"expected a number, got {text!r}")
    return float(text)


def parse_int(text: str) -> int:
    stripped = text.strip()
    if not re.fullmatch(r"[+-]?\d+", stripped):
        raise BadReply(f"expected a whole number, got {text!r}")
    return int(stripped)


def parse_digit_bool(text: str) -> bool:
    """``1``/``0`` → True/False."""
    value = text.strip()
    if value not in ("0", "1"):
        raise BadReply(f"expected 0 or 1, got {text!r}")
    return value == "1"


def _with_suffix(text: str, suffix: str) -> float:
    value = text.strip()
    if value.lower().endswith(suffix.lower()):
        value = value[: -len(suffix)]
    return parse_float(value)


def parse_nanometres(text: str) -> float:
    """MaiTai ``820nm`` (or a bare number) → 820.0."""
    return _with_suffix(text, "nm")


def parse_percent(text: str) -> float:
    """MaiTai warm-up ``050%`` → 50.0."""
    return _with_suffix(text, "%")


def parse_watts(text: str) -> float:
    """MaiTai ``3.000W`` → 3.0."""
    return _with_suffix(text, "W")


def format_fixed(value: float, decimals: int = 6) -> str:
    """A number as controllers accept it: no exponent, no trailing zeros (``10``, ``-2.5``)."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --- ESP300 -------------------------------------------------------------------------------

ESP300_UNITS = {
    0: "encoder count",
    1: "motor step",
    2: "mm",
    3: "um",
    4: "in",
    5: "mil",
    6: "uin",
    7: "deg",
    8: "grad",
    9: "rad",
    10: "mrad",
    11: "urad",
}

# ``TE?`` codes. Below 100 general; from 100 up ``<axis><two-digit code>``. Both tables
# from the ESP300 manual as transcribed by pymeasure (pymeasure/pymeasure
# pymeasure/instruments/newport/esp300.py @ 32503b8, GeneralError/AxisError) and by
# InstrumentKit (instrumentkit/InstrumentKit src/instruments/newport/errors.py @ 9405b1e,
# the ESP301 shares the command set); the two agree code for code.
ESP300_GENERAL_ERRORS = {
    0: "no error",
    1: "PCI communication time-out",
    4: "emergency stop activated",
    6: "command does not exist",
    7: "parameter out of range",
    8: "cable interlock error",
    9: "axis number out of range",
    13: "group number missing",
    14: "group number out of range",
    15: "group number not assigned",
    16: "group number already assigned",
    17: "group axis out of range",
    18: "group axis already assigned",
    19: "group axis duplicated",
    20: "data acquisition is busy",
    21: "data acquisition setup error",
    22: "data acquisition not enabled",
    23: "servo cycle tick failure",
    25: "download in progress",
    26: "stored program not started",
    27: "command not allowed",
    28: "stored program flash area full",
    29: "group parameter missing",
    30: "group parameter out of range",
    31: "group maximum velocity exceeded",
    32: "group maximum acceleration exceeded",
    33: "group maximum deceleration exceeded",
    34: "group move not allowed during motion",
    35: "program not found",
    37: "axis number missing",
    38: "command parameter missing",
    39: "program label not found",
    40: "last command cannot be repeated",
    41: "maximum number of labels per program exceeded",
}

ESP300_AXIS_ERRORS = {
    0: "motor type not defined",
    1: "parameter out of range",
    2: "amplifier fault detected",
    3: "following error threshold exceeded",
    4: "positive hardware limit detected",
    5: "negative hardware limit detected",
    6: "positive software limit detected",
    7: "negative software limit detected",
    8: "motor/stage not connected",
    9: "feedback signal fault detected",
    10: "maximum velocity exceeded",
    11: "maximum acceleration exceeded",
    13: "motor not enabled",
    15: "maximum jerk exceeded",
    16: "maximum DAC offset exceeded",
    17: "critical settings are protected",
    18: "stage device error",
    19: "stage data invalid",
    20: "homing aborted",
    21: "motor current not defined",
    22: "unidrive communications error",
    23: "unidrive not detected",
    24: "speed out of range",
    25: "invalid trajectory master axis",
    26: "parameter change not allowed",
    27: "invalid trajectory mode for homing",
    28: "invalid encoder step ratio",
    29: "digital I/O interlock detected",
    30: "command not allowed during homing",
    31: "command not allowed due to group",
    32: "invalid trajectory mode for moving",
}


def parse_esp300_units(text: str) -> str:
    code = parse_int(text)
    if code not in ESP300_UNITS:
        raise BadReply(f"unknown ESP300 unit code {code}")
    return ESP300_UNITS[code]


def describe_esp300_error(code: int) -> str:
    """``TE?`` codes: from 100 up they are ``<axis><code>`` (100 is axis 1, code 00),
    otherwise general."""
    if code >= 100:
        axis, axis_code = divmod(code, 100)
        return f"axis {axis}: {ESP300_AXIS_ERRORS.get(axis_code, 'unknown axis error')}"
    return ESP300_GENERAL_ERRORS.get(code, "unknown error")


# --- Newport 1830-C -----------------------------------------------------------------------

STATUS_1830C_BITS = {
    1: "parameter error",
    2: "command error",
    4: "saturated",
    8: "over-range",
    16: "message ready",
    32: "busy",
    64: "service request",
    128: "reading ready",
}


def describe_1830c_status(byte: int) -> list[str]:
    """The ``Q?`` status byte as the names of its set bits."""
    return [name for bit, name in STATUS_1830C_BITS.items() if byte & bit]


# --- MaiTai -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaiTaiStatus:
    """``*STB?``: bit 0 emission on, bit 1 modelocked (see :mod:`daq.hardware.maitai`)."""

    byte: int

    @property
    def emission(self) -> bool:
        return bool(self.byte & 1)

    @property
    def modelocked(self) -> bool:
        return bool(self.byte & 2)


def parse_maitai_status(text: str) -> MaiTaiStatus:
    return MaiTaiStatus(parse_int(text))


def parse_maitai_error(text: str) -> tuple[int, str]:
    """``SYST:ERR?`` → (code, message); ``0`` alone or ``0 No error`` means none."""
    match = re.fullmatch(r"\s*([+-]?\d+)\s*[, ]?\s*\"?(.*?)\"?\s*", text)
    if not match:
        raise BadReply(f"expected '<code> <message>', got {text!r}")
    return int(match.group(1)), match.group(2)


# --- Thorlabs ELL14 -----------------------------------------------------------------------

ELL14_STATUS = {
    0: "ok",
    1: "communication timeout",
    2: "mechanical timeout",
    3: "command error",
    4: "value out of range",
    5: "module isolated",
    6: "module out of isolation",
    7: "initialisation error",
    8: "thermal error",
    9: "busy",
    10: "sensor error",
    11: "motor error",
    12: "out of range",
    13: "over-current",
}


def describe_ell14_status(code: int) -> str:
    return ELL14_STATUS.get(code, f"unknown status {code}")


def decode_signed_hex32(text: str) -> int:
    """``FFFFFFFE`` → -2: the ELL14's positions are 32-bit two's complement."""
    if not re.fullmatch(r"[0-9A-Fa-f]{8}", text):
        raise BadReply(f"expected 8 hex digits, got {text!r}")
    value = int(text, 16)
    return value - (1 << 32) if value & 0x8000_0000 else value


def encode_signed_hex32(value: int) -> str:
    """-2 → ``FFFFFFFE`` (upper case, as the device expects)."""
    if not -(1 << 31) <= value < (1 << 31):
        raise ValueRefused(f"{value} does not fit in a signed 32-bit pulse count")
    return f"{value & 0xFFFF_FFFF:08X}"


@dataclass(frozen=True)
class Ell14Info:
    device_type: int
    serial: str
    year: int
    firmware: str
    thread_imperial: bool
    hardware: int
    travel: int
    """Degrees for a rotation mount (0x168 = 360)."""
    pulses_per_unit: int
    """Pulses per full travel (per revolution for the ELL14)."""


def parse_ell14_info(data: str) -> Ell14Info:
    """The data after ``<address>IN``: type(2) serial(8) year(4) firmware(2) hw(2)
    travel(4) pulses(8), hex where the manual says so."""
    if not re.fullmatch(
        r"[0-9A-Fa-f]{2}\w{8}\d{4}[0-9A-Fa-f]{2}[0-9A-Fa-f]{2}[0-9A-Fa-f]{12}", data
    ):
        raise BadReply(f"expected 30 characters of ELL14 identity, got {data!r}")
    hardware_byte = int(data[16:18], 16)
    info = Ell14Info(
        device_type=int(data[0:2], 16),
        serial=data[2:10],
        year=int(data[10:14]),
        firmware=data[14:16],
        thread_imperial=bool(hardware_byte & 0x80),
        hardware=hardware_byte & 0x7F,
        travel=int(data[18:22], 16),
        pulses_per_unit=int(data[22:30], 16),
    )
    if info.pulses_per_unit <= 0 or info.travel <= 0:
        raise BadReply(f"ELL14 identity with no travel or pulses: {data!r}")
    return info
