from pathlib import Path

import pytest

from dome.core.catalogue import Catalogue, check_coordinates
from dome.core.errors import InvalidValueError, UnknownTargetError


def test_resolves_names_and_aliases_in_any_case() -> None:
    cat = Catalogue()
    assert cat.resolve("m31").name == "M31"
    assert cat.resolve("Messier 31").name == "M31"
    assert cat.resolve("andromeda galaxy").name == "M31"
    assert cat.resolve("VEGA").ra_deg == pytest.approx(279.2347)


def test_search_finds_partial_names_exact_first() -> None:
    cat = Catalogue()
    names = [o.name for o in cat.search("m1")]
    assert names[0] == "M1"
    assert "M13" in names
    assert {o.name for o in cat.search("nebula")} >= {"M42", "M57", "M1"}
    assert cat.search("   ") == []


def test_unknown_names_are_refused_offline() -> None:
    with pytest.raises(UnknownTargetError, match="offline"):
        Catalogue().resolve("Planet X")
    with pytest.raises(InvalidValueError):
        Catalogue().resolve("")


def test_cached_lookups_resolve_offline(tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    cache.write_text('{"ngc 7000": {"name": "NGC 7000", "ra_deg": 314.75, "dec_deg": 44.37}}')
    obj = Catalogue(cache).resolve("NGC 7000")
    assert (obj.source, obj.ra_deg) == ("cache", 314.75)


@pytest.mark.parametrize(
    ("ra", "dec"), [(360.0, 0.0), (-1.0, 0.0), (10.0, 91.0), (float("nan"), 0.0), ("1", 2.0)]
)
def test_bad_coordinates_are_refused(ra: object, dec: object) -> None:
    with pytest.raises(InvalidValueError):
        check_coordinates(ra, dec)
