"""The observatory's measured correction table: where the dome must point for an object
at a given altitude and azimuth (``Loi_coupole.xlsx``).

The workbook's first worksheet is a column of blocks; each starts with a cell
``Hauteur N°`` (the altitude), then a header row ``Az astre`` | ``Az coupole``, then one
row per object azimuth with the dome azimuth to use, all in degrees; blank rows between
blocks. Other worksheets are templates and are ignored.

Within a block the dome azimuth jumps *backwards* where the mount flips sides of the
pier (object az 180 -> dome 209, object az 182 -> dome 160): a *flip*. The table is
interpolated in azimuth (wrapping at north) only within the flip-free segment the
object is on, and in altitude between blocks, never across a flip. Outside the table's
altitude range the caller falls back to the geometric model.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dome.core.angles import shortest_delta, wrap360

HEADER = ("az astre", "az coupole")
_ALTITUDE = re.compile(r"^\s*hauteur\s+([+-]?\d+(?:[.,]\d+)?)\s*°?\s*$", re.IGNORECASE)


class CorrectionTableError(ValueError):
    """The table cannot be used; the message names the cell."""


@dataclass(frozen=True)
class Flip:
    altitude: float
    from_az: float
    to_az: float
    from_dome: float
    to_dome: float


class Block:
    """One altitude: object azimuths (ascending, in [0, 360)) and dome azimuths."""

    def __init__(
        self, altitude: float, points: list[tuple[float, float]], flip_threshold: float
    ) -> None:
        self.altitude = altitude
        self.az = [p[0] for p in points]
        self.dome = [p[1] for p in points]
        n = len(points)
        # flip[i]: the step from point i to point i+1 (circularly) is a flip
        self.flip = []
        for i in range(n):
            j = (i + 1) % n
            obj_step = (self.az[j] - self.az[i]) % 360.0 or 360.0
            dome_step = shortest_delta(self.dome[i], self.dome[j])
            self.flip.append(dome_step < -flip_threshold and obj_step < 180.0)

    def flips(self) -> list[Flip]:
        n = len(self.az)
        return [
            Flip(
                self.altitude,
                self.az[i],
                self.az[(i + 1) % n],
                self.dome[i],
                self.dome[(i + 1) % n],
            )
            for i in range(n)
            if self.flip[i]
        ]

    def _slope(self, i: int) -> float:
        """Degrees of dome per degree of object over the step from point i to i+1."""
        n = len(self.az)
        j = (i + 1) % n
        if self.flip[i]:
            return 0.0
        span = (self.az[j] - self.az[i]) % 360.0 or 360.0
        return shortest_delta(self.dome[i], self.dome[j]) / span

    def value(self, az: float) -> tuple[float, int]:
        """The dome azimuth for object azimuth ``az``, and the index of the flip-free
        segment it came from (the index of its first point)."""
        n = len(self.az)
        i = (bisect.bisect_right(self.az, az) - 1) % n  # the step az lies on: i -> i+1
        off = (az - self.az[i]) % 360.0
        if not self.flip[i]:
            return wrap360(self.dome[i] + off * self._slope(i)), self._segment(i)
        # a flip between point i and i+1: the boundary is midway; each side extrapolates
        # its own segment's last slope, never interpolating across
        j = (i + 1) % n
        gap = (self.az[j] - self.az[i]) % 360.0
        if off <= gap / 2:
            return wrap360(self.dome[i] + off * self._slope((i - 1) % n)), self._segment(i)
        back = gap - off
        return wrap360(self.dome[j] - back * self._slope(j)), self._segment(j)

    def _segment(self, i: int) -> int:
        """The first point of the flip-free segment holding point ``i``."""
        n = len(self.az)
        if not any(self.flip):
            return 0
        k = i
        for _ in range(n):
            if self.flip[(k - 1) % n]:
                return k
            k = (k - 1) % n
        return 0


@dataclass(frozen=True)
class Lookup:
    dome_azimuth: float
    detail: str


class CorrectionTable:
    def __init__(
        self,
        blocks: list[tuple[float, list[tuple[float, float]]]],
        flip_threshold_deg: float = 30.0,
        source: str = "",
    ) -> None:
        if not blocks:
            raise CorrectionTableError("a correction table needs at least one altitude block")
        self.flip_threshold_deg = flip_threshold_deg
        self.source = source
        self.blocks = [Block(alt, pts, flip_threshold_deg) for alt, pts in sorted(blocks)]
        self._alts = [b.altitude for b in self.blocks]

    @property
    def altitude_range(self) -> tuple[float, float]:
        return self._alts[0], self._alts[-1]

    def flips(self) -> list[Flip]:
        return [f for b in self.blocks for f in b.flips()]

    @property
    def points(self) -> int:
        return sum(len(b.az) for b in self.blocks)

    def lookup(self, altitude: float, azimuth: float) -> Lookup | None:
        """The dome azimuth from the table, or None outside its altitude range."""
        lo_alt, hi_alt = self._alts[0], self._alts[-1]
        if not lo_alt <= altitude <= hi_alt:
            return None
        az = wrap360(azimuth)
        k = bisect.bisect_left(self._alts, altitude)
        if self._alts[k] == altitude:
            value, _ = self.blocks[k].value(az)
            return Lookup(value, f"table: altitude block {altitude:g}")
        lo, hi = self.blocks[k - 1], self.blocks[k]
        v_lo, _ = lo.value(az)
        v_hi, _ = hi.value(az)
        frac = (altitude - lo.altitude) / (hi.altitude - lo.altitude)
        step = shortest_delta(v_lo, v_hi)
        if abs(step) > self.flip_threshold_deg:
            # the two altitudes put this azimuth on different sides of a flip: do not
            # interpolate across it, take the nearer block
            near = lo if frac < 0.5 else hi
            value = v_lo if near is lo else v_hi
            return Lookup(
                value,
                f"table: altitude block {near.altitude:g} (a flip lies between"
                f" {lo.altitude:g} and {hi.altitude:g} here)",
            )
        return Lookup(
            wrap360(v_lo + frac * step),
            f"table: between altitude blocks {lo.altitude:g} and {hi.altitude:g}",
        )

    # --- storage --------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "flip_threshold_deg": self.flip_threshold_deg,
            "blocks": [
                {
                    "altitude": b.altitude,
                    "points": [list(p) for p in zip(b.az, b.dome, strict=True)],
                }
                for b in self.blocks
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CorrectionTable:
        try:
            blocks = [
                (float(b["altitude"]), [(float(a), float(d)) for a, d in b["points"]])
                for b in data["blocks"]
            ]
            return cls(blocks, float(data.get("flip_threshold_deg", 30.0)), str(data["source"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorrectionTableError(f"corrections file is damaged: {exc}") from None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> CorrectionTable | None:
        if not path.exists():
            return None
        return cls.from_json(json.loads(path.read_text()))

    def report(self) -> str:
        lo, hi = self.altitude_range
        lines = [
            f"{len(self.blocks)} altitudes from {lo:g} to {hi:g} deg"
            f" ({', '.join(f'{a:g}' for a in self._alts)}), {self.points} points,"
            f" {len(self.flips())} flips:"
        ]
        for f in self.flips():
            lines.append(
                f"  altitude {f.altitude:g}: object az {f.from_az:g} -> {f.to_az:g},"
                f" dome {f.from_dome:g} -> {f.to_dome:g}"
            )
        return "\n".join(lines)


# --- the workbook ---------------------------------------------------------------------
def _number(cell: Any, what: str) -> float:
    value = cell.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = float(value.strip().replace(",", "."))
            except ValueError:
                raise CorrectionTableError(
                    f"cell {cell.coordinate}: {what} must be a number of degrees, got"
                    f" {cell.value!r}"
                ) from None
        else:
            raise CorrectionTableError(
                f"cell {cell.coordinate}: {what} must be a number of degrees, got {cell.value!r}"
            )
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 360.0:
        raise CorrectionTableError(
            f"cell {cell.coordinate}: {what} {value:g} is not in [0, 360] degrees"
        )
    return value % 360.0


def _blank(row: tuple[Any, ...]) -> bool:
    return all(c.value is None or (isinstance(c.value, str) and not c.value.strip()) for c in row)


def import_xlsx(path: Path, flip_threshold_deg: float = 30.0) -> CorrectionTable:
    """Read ``Loi_coupole.xlsx`` (see the module docstring); a malformed file raises
    :class:`CorrectionTableError` naming the cell."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook  # only the CLI imports a workbook

    try:
        workbook = load_workbook(path, data_only=True)
    except (OSError, ValueError, KeyError, BadZipFile) as exc:
        raise CorrectionTableError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        rows = [row for row in sheet.iter_rows() if row]
    finally:
        workbook.close()
    blocks: list[tuple[float, list[tuple[float, float]]]] = []
    seen: dict[float, str] = {}
    state = "seek"  # seek -> header -> points
    col = 0
    current: list[tuple[float, float]] = []
    start_cell = ""

    def close_block() -> None:
        if state == "header":
            raise CorrectionTableError(
                f"cell {start_cell}: the block has no 'Az astre' | 'Az coupole' header row"
            )
        if state == "points":
            if len(current) < 2:
                raise CorrectionTableError(f"cell {start_cell}: the block has fewer than 2 rows")
            blocks[-1][1].extend(current)

    for row in rows:
        if _blank(row):
            if state in ("points", "header"):
                close_block()
                state = "seek"
            continue
        cells = [c for c in row if c.value is not None and str(c.value).strip()]
        first = cells[0]
        if isinstance(first.value, str) and (m := _ALTITUDE.match(first.value)):
            close_block()
            altitude = float(m.group(1).replace(",", "."))
            if not -90 <= altitude <= 90:
                raise CorrectionTableError(
                    f"cell {first.coordinate}: altitude {altitude:g} is not in [-90, 90]"
                )
            if altitude in seen:
                raise CorrectionTableError(
                    f"cell {first.coordinate}: altitude {altitude:g} again (first at"
                    f" {seen[altitude]})"
                )
            seen[altitude] = first.coordinate
            blocks.append((altitude, []))
            current, state, start_cell = [], "header", first.coordinate
            col = first.column
            continue
        if state == "seek":
            raise CorrectionTableError(
                f"cell {first.coordinate}: {first.value!r} is outside any 'Hauteur N°' block"
            )
        if state == "header":
            texts = tuple(
                str(c.value).strip().lower() for c in cells[:2] if isinstance(c.value, str)
            )
            if texts != HEADER:
                raise CorrectionTableError(
                    f"cell {first.coordinate}: expected the header 'Az astre' | 'Az coupole',"
                    f" got {' | '.join(str(c.value) for c in cells[:2])}"
                )
            col = cells[0].column
            state = "points"
            continue
        by_col = {c.column: c for c in row}
        az_cell, dome_cell = by_col.get(col), by_col.get(col + 1)
        if az_cell is None or az_cell.value is None:
            raise CorrectionTableError(f"cell {first.coordinate}: object azimuth missing")
        if dome_cell is None or dome_cell.value is None:
            raise CorrectionTableError(
                f"cell {az_cell.coordinate}: no dome azimuth beside this object azimuth"
            )
        az = _number(az_cell, "the object azimuth")
        dome = _number(dome_cell, "the dome azimuth")
        if current and az <= current[-1][0]:
            raise CorrectionTableError(
                f"cell {az_cell.coordinate}: object azimuths must increase within a block"
                f" ({az:g} after {current[-1][0]:g})"
            )
        current.append((az, dome))
    close_block()
    if not blocks:
        raise CorrectionTableError(
            f"{path}: no 'Hauteur N°' cell in the first worksheet {sheet.title!r}"
        )
    return CorrectionTable(blocks, flip_threshold_deg, source=Path(path).name)
