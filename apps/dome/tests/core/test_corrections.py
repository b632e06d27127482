import random
from pathlib import Path

import pytest

from dome.cli import main
from dome.core.corrections import (
    CorrectionTable,
    CorrectionTableError,
    import_legacy,
    load_csv,
    parse_csv,
)


def test_interpolates_between_points_and_across_north() -> None:
    table = CorrectionTable.from_points({10.0: 1.0, 20.0: 3.0, 350.0: -1.0})
    assert table.correction(15.0) == pytest.approx(2.0)
    assert table.correction(0.0) == pytest.approx(0.0)  # halfway from 350 (-1) to 10 (+1)
    assert table.correction(355.0) == pytest.approx(-0.5)
    assert table.apply(359.5) == pytest.approx(359.5 - 0.025 * 1 + 0.0, abs=0.1)


def test_csv_round_trip(tmp_path: Path) -> None:
    table = CorrectionTable.from_points({0.0: 0.5, 90.0: -0.25})
    path = tmp_path / "c.csv"
    path.write_text(table.to_csv())
    assert load_csv(path) == table


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("az,corr\n1,2\n", "line 1"),
        ("azimuth_deg,correction_deg\n400,1\n", "line 2: azimuth 400"),
        ("azimuth_deg,correction_deg\n10,x\n", "line 2: not a number"),
        ("azimuth_deg,correction_deg\n10,nan\n", "line 2: not a finite"),
        ("azimuth_deg,correction_deg\n10,1,2\n", "line 2: expected 2 columns"),
        ("azimuth_deg,correction_deg\n", "at least one point"),
    ],
)
def test_bad_tables_name_the_line(text: str, message: str) -> None:
    with pytest.raises(CorrectionTableError, match=message):
        parse_csv(text)


def legacy_export(points: list[tuple[float, float | None]]) -> str:
    lines = ["Dome calibration;;;", "Measured;2019-03-02;;", ";;;", "Nr;Az calc;Az measured;Note"]
    for i, (calc, measured) in enumerate(points, start=1):
        m = "" if measured is None else f"{measured:.2f}".replace(".", ",")
        lines.append(f"{i};{calc:.2f}".replace(".", ",") + f";{m};")
    return "\n".join(lines) + "\n"


def test_legacy_spreadsheet_imports_275_points(tmp_path: Path) -> None:
    rng = random.Random(4)
    truth = {round(i * 360 / 270, 2): rng.uniform(-2, 2) for i in range(270)}
    points: list[tuple[float, float | None]] = [(az, (az + c) % 360) for az, c in truth.items()]
    first = next(iter(truth))
    points += [(first, (first + truth[first] + 0.2) % 360)]  # measured twice
    points += [(5.0, None)] * 4  # not measured: skipped
    source, target = tmp_path / "old.csv", tmp_path / "new.csv"
    source.write_text(legacy_export(points))
    assert len(points) == 275
    assert main(["import-corrections", str(source), str(target)]) == 0
    table = load_csv(target)
    assert len(table.azimuths) == 270
    first = next(iter(truth))
    assert table.correction(first) == pytest.approx(next(iter(truth.values())) + 0.1, abs=0.01)
    for az, corr in list(truth.items())[1:]:
        assert table.correction(az) == pytest.approx(corr, abs=0.01)


def test_legacy_without_header_is_refused() -> None:
    with pytest.raises(CorrectionTableError, match="Nr;"):
        import_legacy("just;some;cells\n")
