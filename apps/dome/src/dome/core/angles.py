"""Azimuth arithmetic: wrapping and the shortest way round."""

from __future__ import annotations

import math


def wrap360(deg: float) -> float:
    """``deg`` in [0, 360)."""
    wrapped = math.fmod(deg, 360.0)
    if wrapped < 0:
        wrapped += 360.0
    return 0.0 if wrapped >= 360.0 else wrapped


def shortest_delta(from_deg: float, to_deg: float) -> float:
    """Signed turn in (-180, 180] from ``from_deg`` to ``to_deg``: + is clockwise (east)."""
    delta = wrap360(to_deg - from_deg)
    return delta - 360.0 if delta > 180.0 else delta


def check_azimuth(value: float, what: str = "azimuth") -> float:
    """An azimuth a caller may ask for: a finite number in [0, 360)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number of degrees, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number of degrees, got {value}")
    if not 0.0 <= value < 360.0:
        raise ValueError(f"{what} must be in [0, 360) degrees, got {value}")
    return float(value)
