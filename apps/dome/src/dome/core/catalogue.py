"""Targets by name: the bundled catalogue, a local cache, and SIMBAD when online.

The bundled catalogue (``dome/data/catalogue.json``) lists common objects with J2000
coordinates so tracking works with no network at all. Names found in SIMBAD are cached
in a JSON file, so the next night they resolve offline too. SIMBAD is consulted only
when the settings say the observatory is online, and never in tests.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from dome.core.errors import InvalidValueError, UnknownTargetError


@dataclass(frozen=True)
class CatalogueObject:
    name: str
    ra_deg: float
    dec_deg: float
    kind: str = ""
    aliases: tuple[str, ...] = ()
    source: str = "bundled"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["aliases"] = list(self.aliases)
        return out


def _key(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").split()).replace("messier ", "m")


def check_coordinates(ra_deg: Any, dec_deg: Any) -> tuple[float, float]:
    for what, value in (("ra_deg", ra_deg), ("dec_deg", dec_deg)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidValueError(
                f"{what} must be a number of degrees, got {type(value).__name__}"
            )
        if not math.isfinite(value):
            raise InvalidValueError(f"{what} must be finite, got {value}")
    if not 0 <= ra_deg < 360:
        raise InvalidValueError(f"ra_deg must be in [0, 360), got {ra_deg}")
    if not -90 <= dec_deg <= 90:
        raise InvalidValueError(f"dec_deg must be in [-90, 90], got {dec_deg}")
    return float(ra_deg), float(dec_deg)


class Catalogue:
    def __init__(self, cache_file: Path | None = None, online: bool = False) -> None:
        raw = json.loads(resources.files("dome.data").joinpath("catalogue.json").read_text())
        self._bundled = [
            CatalogueObject(
                name=o["name"],
                ra_deg=o["ra_deg"],
                dec_deg=o["dec_deg"],
                kind=o.get("kind", ""),
                aliases=tuple(o.get("aliases", ())),
            )
            for o in raw["objects"]
        ]
        self._cache_file = cache_file
        self._online = online
        self._lock = threading.Lock()
        self._cache: dict[str, CatalogueObject] = {}
        if cache_file is not None and cache_file.exists():
            for key, o in json.loads(cache_file.read_text()).items():
                self._cache[key] = CatalogueObject(
                    o["name"], o["ra_deg"], o["dec_deg"], o.get("kind", ""), (), "cache"
                )

    def objects(self) -> list[CatalogueObject]:
        with self._lock:
            return [*self._bundled, *self._cache.values()]

    def search(self, query: str, limit: int = 20) -> list[CatalogueObject]:
        q = _key(query)
        if not q:
            return []
        hits = [o for o in self.objects() if any(q in _key(n) for n in (o.name, *o.aliases))]
        exact = [o for o in hits if q in {_key(n) for n in (o.name, *o.aliases)}]
        rest = [o for o in hits if o not in exact]
        return (exact + rest)[:limit]

    def resolve(self, name: str) -> CatalogueObject:
        """The object called ``name`` (exactly, any alias, case-insensitive)."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidValueError("target name must be a non-empty string")
        if len(name) > 100:
            raise InvalidValueError("target name is longer than 100 characters")
        key = _key(name)
        for o in self.objects():
            if key in {_key(n) for n in (o.name, *o.aliases)}:
                return o
        if self._online:
            found = self._simbad(name)
            if found is not None:
                return found
        where = (
            "the catalogue, the cache or SIMBAD"
            if self._online
            else "the catalogue or the cache (offline)"
        )
        raise UnknownTargetError(f"unknown target {name!r}: not in {where}")

    def _simbad(self, name: str) -> CatalogueObject | None:
        try:
            from astroquery.simbad import Simbad
        except ImportError:
            return None
        try:
            table = Simbad.query_object(name)
        except Exception:
            return None
        if table is None or len(table) == 0:
            return None
        row = table[0]
        ra = float(row["ra"]) if "ra" in row.colnames else float(row["RA_d"])
        dec = float(row["dec"]) if "dec" in row.colnames else float(row["DEC_d"])
        found = CatalogueObject(name.strip(), ra, dec, "", (), "simbad")
        with self._lock:
            self._cache[_key(name)] = found
            if self._cache_file is not None:
                self._cache_file.parent.mkdir(parents=True, exist_ok=True)
                self._cache_file.write_text(
                    json.dumps({k: asdict(v) for k, v in self._cache.items()}, indent=1)
                )
        return found
