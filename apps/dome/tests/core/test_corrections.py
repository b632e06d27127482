"""The measured correction table: import from the workbook, 2-D lookup within flip-free
segments, geometric fallback outside its altitudes, and refusals naming the cell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl.worksheet.worksheet import Worksheet

from dome.core.angles import shortest_delta
from dome.core.corrections import CorrectionTable, CorrectionTableError, import_xlsx
from dome.core.geometry import DomeGeometry
from dome.core.pier import PierPolicy
from dome.core.tracking import Site, SlitCalculator
from tests.workbooks import ALTITUDES, AZIMUTHS, measured_blocks, write_workbook


@pytest.fixture
def table(tmp_path: Path) -> CorrectionTable:
    return import_xlsx(write_workbook(tmp_path / "Loi_coupole.xlsx"))


def test_the_import_reads_every_block_and_finds_the_meridian_flips(
    table: CorrectionTable,
) -> None:
    assert [b.altitude for b in table.blocks] == list(ALTITUDES)
    assert table.points == len(ALTITUDES) * len(AZIMUTHS)
    flips = {(f.altitude, f.from_az, f.to_az) for f in table.flips()}
    for alt in ALTITUDES:
        assert (alt, 180.0, 182.0) in flips  # the mount flips at the meridian in each block
    thirty = next(f for f in table.flips() if f.altitude == 30.0)
    assert (thirty.from_dome, thirty.to_dome) == (209.0, 160.0)
    report = table.report()
    assert "11 altitudes from 30 to 85" in report
    assert "altitude 30: object az 180 -> 182, dome 209 -> 160" in report


def test_the_tables_own_points_reproduce(table: CorrectionTable) -> None:
    for alt, points in measured_blocks():
        for az, dome in points:
            found = table.lookup(alt, az)
            assert found is not None
            assert abs(shortest_delta(found.dome_azimuth, dome)) <= 0.5, (alt, az)


def test_azimuth_is_interpolated_within_a_segment_and_across_north(
    table: CorrectionTable,
) -> None:
    points = dict(measured_blocks()[0][1])
    found = table.lookup(30.0, 97.5)
    assert found is not None
    assert found.dome_azimuth == pytest.approx((points[90.0] + points[105.0]) / 2)
    across = table.lookup(30.0, 352.5)  # between 345 and 0, wrapping at north
    assert across is not None
    expected = points[345.0] + shortest_delta(points[345.0], points[0.0]) / 2
    assert abs(shortest_delta(across.dome_azimuth, expected)) < 1e-6


def test_the_flip_is_never_interpolated_across(table: CorrectionTable) -> None:
    """Between object az 180 (dome 209) and 182 (dome 160) each side keeps its own
    segment: nothing near the 184.5 a straight line would give."""
    for az in (180.2, 180.5, 180.9, 181.1, 181.5, 181.9):
        found = table.lookup(30.0, az)
        assert found is not None
        near_before = abs(shortest_delta(found.dome_azimuth, 209.0)) < 3
        near_after = abs(shortest_delta(found.dome_azimuth, 160.0)) < 3
        assert near_before == (az < 181.0)
        assert near_after == (az > 181.0)


def test_altitude_is_interpolated_between_blocks(table: CorrectionTable) -> None:
    b30, b45 = dict(measured_blocks()[0][1]), dict(measured_blocks()[1][1])
    found = table.lookup(37.5, 90.0)
    assert found is not None
    expected = b30[90.0] + shortest_delta(b30[90.0], b45[90.0]) / 2
    assert found.dome_azimuth == pytest.approx(expected % 360)
    assert "between altitude blocks 30 and 45" in found.detail


def test_outside_the_altitudes_the_geometry_answers_and_says_so(table: CorrectionTable) -> None:
    assert table.lookup(20.0, 100.0) is None
    assert table.lookup(88.0, 100.0) is None
    calc = SlitCalculator(
        Site(44.0, 5.0, 100.0), DomeGeometry(radius_m=2.2, latitude_deg=44.0), table
    )
    inside = calc.slit(50.0, 100.0)
    assert inside.rule.startswith("table")
    outside = calc.slit(20.0, 100.0)
    assert outside.rule.startswith("geometry, outside the table's altitudes 30-85")


def test_the_pier_side_policy_drives_the_geometry() -> None:
    geometry = DomeGeometry(radius_m=2.2, latitude_deg=44.0, optical_offset_m=0.6)
    site = Site(44.0, 5.0, 100.0)
    east = SlitCalculator(site, geometry, None, PierPolicy("east")).slit(40.0, 120.0)
    west = SlitCalculator(site, geometry, None, PierPolicy("west")).slit(40.0, 120.0)
    assert abs(shortest_delta(east.dome_azimuth, west.dome_azimuth)) > 10
    by_ha = SlitCalculator(site, geometry, None, PierPolicy("by-hour-angle"))
    assert by_ha.slit(40.0, 120.0).pier_side == "west"  # east of the meridian
    assert by_ha.slit(40.0, 240.0).pier_side == "east"  # past it
    late = SlitCalculator(site, geometry, None, PierPolicy("by-hour-angle", 15.0))
    assert late.slit(40.0, 190.0).pier_side == "west"  # tracks on until 15 deg past
    mount = SlitCalculator(site, geometry, None, PierPolicy("mount"))
    assert mount.slit(40.0, 120.0, "east").pier_side == "east"  # as the mount says
    unknown = mount.slit(40.0, 120.0, None)
    assert unknown.pier_side == "west"
    assert "does not know" in unknown.rule


def edit(cell: str, value: object) -> object:
    def apply(ws: Worksheet) -> None:
        ws[cell] = value

    return apply


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (edit("C10", "2O9"), "cell C10: the dome azimuth must be a number"),
        (edit("B12", 400), "cell B12: the object azimuth 400 is not in [0, 360]"),
        (edit("B8", 70), "cell B9: object azimuths must increase within a block (60 after 70)"),
        (edit("C4", "Az dome"), "cell B4: expected the header"),
        (edit("C9", None), "cell B9: no dome azimuth beside"),
        (edit("A1", "notes"), "cell A1: 'notes' is outside any 'Hauteur N°' block"),
        (edit("B32", "Hauteur 30°"), "cell B32: altitude 30 again (first at B3)"),
        (edit("B3", "Hauteur 95°"), "cell B3: altitude 95 is not in [-90, 90]"),
    ],
)
def test_a_malformed_workbook_is_refused_naming_the_cell(
    tmp_path: Path, change: object, named: str
) -> None:
    path = write_workbook(tmp_path / "bad.xlsx", edit=change)  # type: ignore[arg-type]
    with pytest.raises(CorrectionTableError) as err:
        import_xlsx(path)
    assert named in str(err.value)


def test_a_workbook_without_blocks_or_not_a_workbook_is_refused(tmp_path: Path) -> None:
    empty = write_workbook(tmp_path / "empty.xlsx", blocks=[])
    with pytest.raises(CorrectionTableError, match="no 'Hauteur N°' cell"):
        import_xlsx(empty)
    text = tmp_path / "table.xlsx"
    text.write_text("Hauteur 30;Az astre\n")
    with pytest.raises(CorrectionTableError, match=r"not a readable \.xlsx"):
        import_xlsx(text)


def test_the_saved_table_round_trips(table: CorrectionTable, tmp_path: Path) -> None:
    path = tmp_path / "corrections.json"
    table.save(path)
    again = CorrectionTable.load(path)
    assert again is not None
    for alt, az in ((30.0, 181.5), (61.0, 10.0), (84.0, 359.0)):
        a, b = table.lookup(alt, az), again.lookup(alt, az)
        assert a is not None
        assert b is not None
        assert a.dome_azimuth == b.dome_azimuth


def dome_cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOME_STATE_DIR": str(state), "DOME_SOCKET_PATH": str(state / "no.sock")}
    return subprocess.run(
        [sys.executable, "-m", "dome", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_cli_imports_reports_and_looks_up(tmp_path: Path) -> None:
    book = write_workbook(tmp_path / "Loi_coupole.xlsx")
    state = tmp_path / "state"
    out = dome_cli(state, "corrections", "import", str(book))
    assert out.returncode == 0, out.stderr
    assert "11 altitudes from 30 to 85" in out.stdout
    assert "dome 209 -> 160" in out.stdout
    assert (state / "corrections.json").exists()
    inside = dome_cli(state, "corrections", "lookup", "--alt", "30", "--az", "180")
    assert inside.returncode == 0, inside.stderr
    assert "dome azimuth 209.00 deg" in inside.stdout
    assert "table: altitude block 30" in inside.stdout
    outside = dome_cli(state, "corrections", "lookup", "--alt", "15", "--az", "180")
    assert "geometry, outside the table's altitudes" in outside.stdout
    bad = dome_cli(state, "corrections", "lookup", "--alt", "95", "--az", "10")
    assert bad.returncode == 2
    assert "--alt must be in" in bad.stderr


def test_the_cli_refuses_a_bad_workbook_and_keeps_the_old_table(tmp_path: Path) -> None:
    state = tmp_path / "state"
    good = write_workbook(tmp_path / "good.xlsx")
    assert dome_cli(state, "corrections", "import", str(good)).returncode == 0
    before = (state / "corrections.json").read_text()
    bad = write_workbook(tmp_path / "bad.xlsx", edit=edit("C10", "n/a"))  # type: ignore[arg-type]
    out = dome_cli(state, "corrections", "import", str(bad))
    assert out.returncode == 1
    assert "cell C10" in out.stderr
    assert (state / "corrections.json").read_text() == before
