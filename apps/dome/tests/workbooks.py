"""Correction workbooks shaped like the observatory's ``Loi_coupole.xlsx``, built with
openpyxl: blocks down column B (``Hauteur N°``, the ``Az astre`` | ``Az coupole`` header,
one row per object azimuth), blank rows between, template sheets after the first.

The dome azimuths come from a model of an offset German mount in a 2.2 m dome whose
tube flips sides at the meridian (so the table has the flip the real one has), rounded
to whole degrees as the real measurements are; the 30 deg block carries the issue's own
example, object az 180 -> dome 209 and 182 -> dome 160.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from dome.core.geometry import DomeGeometry

ALTITUDES = (30.0, 45.0, 53.0, 60.0, 65.0, 70.0, 72.5, 75.0, 77.5, 80.0, 85.0)
AZIMUTHS = (*range(0, 181, 15), 182, *range(195, 360, 15))
MODEL = DomeGeometry(
    radius_m=2.2,
    latitude_deg=44.0,
    mount_offset_north_m=-0.1,
    mount_offset_up_m=0.3,
    optical_offset_m=0.6,
)

Blocks = list[tuple[float, list[tuple[float, float]]]]


def measured_blocks() -> Blocks:
    blocks: Blocks = []
    for alt in ALTITUDES:
        points = []
        for az in AZIMUTHS:
            side = "west" if az <= 180 else "east"  # the mount flips at the meridian
            points.append((float(az), float(round(MODEL.slit_azimuth(alt, az, side)) % 360)))
        if alt == 30.0:
            points = [(a, 209.0 if a == 180 else 160.0 if a == 182 else d) for a, d in points]
        blocks.append((alt, points))
    return blocks


def write_workbook(
    path: Path,
    blocks: Blocks | None = None,
    *,
    edit: Callable[[Worksheet], None] | None = None,
    altitude_label: Callable[[float], object] = lambda alt: f"Hauteur {alt:g}°",
) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "cartographie"
    row = 3
    for alt, points in blocks if blocks is not None else measured_blocks():
        ws.cell(row, 2, altitude_label(alt))
        ws.cell(row + 1, 2, "Az astre")
        ws.cell(row + 1, 3, "Az coupole")
        for i, (az, dome) in enumerate(points):
            ws.cell(row + 2 + i, 2, int(az) if az == int(az) else az)
            ws.cell(row + 2 + i, 3, int(dome) if dome == int(dome) else dome)
        row += 2 + len(points) + 2  # two blank rows between blocks
    for name in ("Feuil1", "Feuil3", "Feuil2"):  # the empty templates of the real file
        t = wb.create_sheet(name)
        t.cell(2, 2, "Hauteur")
        t.cell(3, 2, "Az astre")
        t.cell(3, 3, "Az coupole")
    if edit is not None:
        edit(ws)
    wb.save(path)
    return path
