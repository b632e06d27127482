"""Where the slit must point so the telescope looks through it.

Frame: the dome centre is the origin, x east, y north, z up, in metres. The telescope's
optical axis starts at the mount's axes intersection, displaced sideways along the
declination axis by ``optical_offset_m`` (a German equatorial mount: the tube sits beside
the pier, on the side the pier side says). The slit azimuth is where that line leaves the
dome's hemisphere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dome.core.angles import wrap360

Vec = tuple[float, float, float]


def _unit(alt_deg: float, az_deg: float) -> Vec:
    alt, az = math.radians(alt_deg), math.radians(az_deg)
    return (math.cos(alt) * math.sin(az), math.cos(alt) * math.cos(az), math.sin(alt))


def _cross(a: Vec, b: Vec) -> Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def hour_angle(alt_deg: float, az_deg: float, latitude_deg: float) -> float:
    """The hour angle (degrees, + west of the meridian, in (-180, 180]) of the direction
    ``alt_deg``/``az_deg`` seen from ``latitude_deg``."""
    alt, az, lat = (math.radians(x) for x in (alt_deg, az_deg, latitude_deg))
    # the direction in the equatorial frame (x towards the meridian's equator point,
    # y west, z the pole), from the horizon frame (east, north, up)
    e, n, u = math.cos(alt) * math.sin(az), math.cos(alt) * math.cos(az), math.sin(alt)
    x = -n * math.sin(lat) + u * math.cos(lat)
    y = -e
    return math.degrees(math.atan2(y, x))


@dataclass(frozen=True)
class DomeGeometry:
    radius_m: float
    latitude_deg: float
    mount_offset_east_m: float = 0.0
    mount_offset_north_m: float = 0.0
    mount_offset_up_m: float = 0.0
    optical_offset_m: float = 0.0
    pier_side: Literal["east", "west"] = "east"

    def slit_azimuth(
        self, alt_deg: float, az_deg: float, pier_side: Literal["east", "west"] | None = None
    ) -> float:
        """Dome azimuth (degrees) for a telescope pointing at ``alt_deg``/``az_deg`` with
        the tube on ``pier_side`` (ASCOM pierEast: the tube east of the pier, looking
        west) of a German equatorial mount."""
        side = pier_side or self.pier_side
        t = _unit(alt_deg, az_deg)
        origin: Vec = (self.mount_offset_east_m, self.mount_offset_north_m, self.mount_offset_up_m)
        if self.optical_offset_m:
            lat = math.radians(self.latitude_deg)
            polar: Vec = (0.0, math.cos(lat), math.sin(lat))
            if self.latitude_deg < 0:
                polar = (0.0, -math.cos(lat), -math.sin(lat))
            d = _cross(polar, t)
            norm = math.sqrt(_dot(d, d))
            if norm > 1e-9:  # pointing at the pole: the offset has no sideways direction
                sign = 1.0 if side == "east" else -1.0
                k = sign * self.optical_offset_m / norm
                origin = (origin[0] + k * d[0], origin[1] + k * d[1], origin[2] + k * d[2])
        if _dot(origin, origin) >= self.radius_m**2:
            raise ValueError("the telescope is outside the dome: check the geometry settings")
        ot = _dot(origin, t)
        disc = ot * ot - _dot(origin, origin) + self.radius_m**2
        if disc < 0:
            raise ValueError("the telescope is outside the dome: check the geometry settings")
        s = -ot + math.sqrt(disc)
        x = (origin[0] + s * t[0], origin[1] + s * t[1])
        if abs(x[0]) < 1e-12 and abs(x[1]) < 1e-12:
            return wrap360(az_deg)  # straight up: any azimuth; keep the telescope's
        return wrap360(math.degrees(math.atan2(x[0], x[1])))
