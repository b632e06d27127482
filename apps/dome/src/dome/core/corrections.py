"""The optical correction table: measured offsets added to the geometric slit azimuth.

Native format (CSV, header required)::

    azimuth_deg,correction_deg
    0.0,0.8
    10.0,1.1

Corrections are interpolated linearly, and across north (the table is periodic).

The old spreadsheet export (:func:`import_legacy`) is semicolon-separated with decimal
commas: a few preamble lines, then a header row starting ``Nr;`` with the columns ``Nr``,
``Az calc`` (the geometric azimuth computed for the point), ``Az measured`` (where the
slit had to be) and ``Note``; rows with an empty measurement are skipped. About 275
points were measured by hand, some azimuths twice: duplicates are averaged.
"""

from __future__ import annotations

import bisect
import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from dome.core.angles import shortest_delta, wrap360


class CorrectionTableError(ValueError):
    """The table cannot be used; the message names the line."""


@dataclass(frozen=True)
class CorrectionTable:
    azimuths: tuple[float, ...]
    corrections: tuple[float, ...]

    @classmethod
    def from_points(cls, points: dict[float, float]) -> CorrectionTable:
        if not points:
            raise CorrectionTableError("a correction table needs at least one point")
        keys = sorted(points)
        return cls(tuple(keys), tuple(points[k] for k in keys))

    def correction(self, azimuth: float) -> float:
        az = wrap360(azimuth)
        keys = self.azimuths
        if len(keys) == 1:
            return self.corrections[0]
        i = bisect.bisect_right(keys, az)
        lo, hi = (i - 1) % len(keys), i % len(keys)
        a0, a1 = keys[lo], keys[hi]
        span = wrap360(a1 - a0) or 360.0
        frac = wrap360(az - a0) / span
        return self.corrections[lo] + frac * (self.corrections[hi] - self.corrections[lo])

    def apply(self, azimuth: float) -> float:
        return wrap360(azimuth + self.correction(azimuth))

    def to_csv(self) -> str:
        out = io.StringIO()
        out.write("azimuth_deg,correction_deg\n")
        for az, corr in zip(self.azimuths, self.corrections, strict=True):
            out.write(f"{az:.3f},{corr:.3f}\n")
        return out.getvalue()


def _number(text: str, where: str) -> float:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise CorrectionTableError(f"{where}: not a number: {text!r}") from None
    if not math.isfinite(value):
        raise CorrectionTableError(f"{where}: not a finite number: {text!r}")
    return value


def load_csv(path: Path) -> CorrectionTable:
    return parse_csv(path.read_text(), str(path))


def parse_csv(text: str, name: str = "table") -> CorrectionTable:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != ["azimuth_deg", "correction_deg"]:
        raise CorrectionTableError(f"{name}: line 1 must be 'azimuth_deg,correction_deg'")
    points: dict[float, float] = {}
    for lineno, row in enumerate(reader, start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise CorrectionTableError(f"{name} line {lineno}: expected 2 columns, got {len(row)}")
        az = _number(row[0], f"{name} line {lineno}")
        if not 0 <= az < 360:
            raise CorrectionTableError(f"{name} line {lineno}: azimuth {az} not in [0, 360)")
        corr = _number(row[1], f"{name} line {lineno}")
        if abs(corr) > 45:
            raise CorrectionTableError(f"{name} line {lineno}: correction {corr} beyond 45 deg")
        points[az] = corr
    return CorrectionTable.from_points(points)


def import_legacy(text: str, name: str = "spreadsheet") -> CorrectionTable:
    """Read the old spreadsheet export (see the module docstring)."""
    lines = text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.strip().lower().startswith("nr;")), None
    )
    if start is None:
        raise CorrectionTableError(f"{name}: no header row starting with 'Nr;'")
    columns = [c.strip().lower() for c in lines[start].split(";")]
    try:
        calc_col, meas_col = columns.index("az calc"), columns.index("az measured")
    except ValueError:
        raise CorrectionTableError(
            f"{name}: header must have 'Az calc' and 'Az measured'"
        ) from None
    sums: dict[float, list[float]] = defaultdict(list)
    for lineno, line in enumerate(lines[start + 1 :], start=start + 2):
        cells = line.split(";")
        if len(cells) <= max(calc_col, meas_col) or not cells[meas_col].strip():
            continue
        calc = wrap360(_number(cells[calc_col], f"{name} line {lineno}"))
        measured = _number(cells[meas_col], f"{name} line {lineno}")
        sums[round(calc, 3)].append(shortest_delta(calc, measured))
    if not sums:
        raise CorrectionTableError(f"{name}: no measured points")
    return CorrectionTable.from_points({az: sum(v) / len(v) for az, v in sums.items()})
