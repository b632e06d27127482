"""Tracking: keep the slit in front of the telescope while the sky turns.

astropy gives the target's altitude and azimuth for the site (offline: IERS auto-download
is off and the tables bundled with astropy serve); the dome geometry turns that into the
slit azimuth, and the optical correction table adds what was measured. A thread updates
the controller's tracking azimuth every ``update_s``; the controller moves only when the
error leaves the dead band, so the dome moves in steps rather than chattering.
"""

from __future__ import annotations

import threading
import time as _time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from astropy import units as u
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers
from astropy.utils.data import conf as data_conf

from dome.core.catalogue import check_coordinates
from dome.core.controller import Controller, State
from dome.core.corrections import CorrectionTable, CorrectionTableError
from dome.core.errors import (
    BelowHorizonError,
    InvalidStateError,
    InvalidValueError,
    NotConnectedError,
)
from dome.core.geometry import DomeGeometry, hour_angle
from dome.core.pier import PierPolicy
from dome.core.ports import Mount, MountReading
from labkit.logs import get_logger

if TYPE_CHECKING:
    from dome.config import DomeSettings

log = get_logger(__name__)

# Offline by design: a dome controller must never stall waiting for an IERS download.
iers.conf.auto_download = False
iers.conf.auto_max_age = None
data_conf.allow_internet = False


@dataclass(frozen=True)
class Site:
    latitude_deg: float
    longitude_deg: float
    elevation_m: float

    def location(self) -> EarthLocation:
        return EarthLocation(
            lat=self.latitude_deg * u.deg,
            lon=self.longitude_deg * u.deg,
            height=self.elevation_m * u.m,
        )


@dataclass(frozen=True)
class Pointing:
    altitude: float
    azimuth: float
    dome_azimuth: float
    rule: str = "geometry"
    pier_side: str | None = None


class SlitCalculator:
    """Object alt/az → dome azimuth: the measured table where it has the altitude, the
    geometric model (with the pier-side policy) elsewhere. RA/Dec at a time → alt/az."""

    def __init__(
        self,
        site: Site,
        geometry: DomeGeometry,
        corrections: CorrectionTable | None = None,
        pier: PierPolicy | None = None,
    ) -> None:
        self._location = site.location()
        self.site = site
        self.geometry = geometry
        self.corrections = corrections
        self.pier = pier or PierPolicy()

    def slit(self, alt: float, az: float, mount_side: str | None = None) -> Pointing:
        if self.corrections is not None:
            found = self.corrections.lookup(alt, az)
            if found is not None:
                return Pointing(alt, az, found.dome_azimuth, found.detail, mount_side)
        ha = hour_angle(alt, az, self.site.latitude_deg)
        side, why = self.pier.side(ha, mount_side)
        rule = f"geometry (pier {side}: {why})"
        if self.corrections is not None:
            lo, hi = self.corrections.altitude_range
            rule = f"geometry, outside the table's altitudes {lo:g}-{hi:g} (pier {side}: {why})"
        return Pointing(alt, az, self.geometry.slit_azimuth(alt, az, side), rule, side)

    def altaz(self, ra_deg: float, dec_deg: float, when: Time) -> tuple[float, float]:
        coord = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg, frame="icrs")
        with warnings.catch_warnings():
            # beyond the bundled IERS tables astropy warns and extrapolates: fine for a slit
            warnings.simplefilter("ignore")
            altaz = coord.transform_to(AltAz(obstime=when, location=self._location))
        return float(altaz.alt.deg), float(altaz.az.deg)

    def pointing(
        self, ra_deg: float, dec_deg: float, when: Time, mount_side: str | None = None
    ) -> Pointing:
        alt, az = self.altaz(ra_deg, dec_deg, when)
        return self.slit(alt, az, mount_side)


@dataclass
class _Target:
    name: str
    ra_deg: float
    dec_deg: float
    started: float
    last: Pointing | None = None
    slaved: bool = False


class TrackingService:
    def __init__(
        self,
        controller: Controller,
        calculator: SlitCalculator,
        *,
        update_s: float,
        dead_band_deg: float,
        min_altitude_deg: float,
        on_event: Callable[[str, dict[str, Any]], None] = lambda k, d: None,
        now: Callable[[], Time] = Time.now,
        mount: Mount | None = None,
    ) -> None:
        self._controller = controller
        self.mount = mount
        self.calculator = calculator
        self.update_s = update_s
        self.dead_band_deg = dead_band_deg
        self.min_altitude_deg = min_altitude_deg
        self._on_event = on_event
        self._now = now
        self._lock = threading.Lock()
        self._target: _Target | None = None
        self.last_reason: str | None = None
        self.last_update_s: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tracking", daemon=True)

    # --- commands ---
    def start(self, args: dict[str, Any]) -> dict[str, Any]:
        ra, dec = check_coordinates(args.get("ra_deg"), args.get("dec_deg"))
        name = args.get("name") or f"RA {ra:.3f} Dec {dec:+.3f}"
        if not isinstance(name, str) or len(name) > 100:
            raise InvalidValueError("name must be a string of at most 100 characters")
        pointing = self.calculator.pointing(ra, dec, self._now())
        self._check_altitude(name, pointing)
        with self._lock:
            self._controller.start_tracking(pointing.dome_azimuth, self.dead_band_deg)
            self._target = _Target(name, ra, dec, _time.time(), pointing)
            self.last_reason = None
        self._on_event(
            "tracking_target",
            {"name": name, "ra_deg": ra, "dec_deg": dec, "altitude": pointing.altitude},
        )
        described = self.describe()
        assert described is not None
        return described

    def slave(self) -> dict[str, Any]:
        """Follow the telescope: read where it points (and its side of pier) every
        ``update_s`` instead of a named target."""
        if self.mount is None:
            raise InvalidStateError("no telescope to follow: set DOME_MOUNT_ADDRESS")
        reading = self._read_mount()
        pointing = self.calculator.slit(
            reading.altitude_deg, reading.azimuth_deg, reading.side_of_pier
        )
        self._check_altitude(self.mount.name, pointing)
        with self._lock:
            self._controller.start_tracking(pointing.dome_azimuth, self.dead_band_deg)
            self._target = _Target(
                self.mount.name,
                reading.ra_hours * 15.0,
                reading.dec_deg,
                _time.time(),
                pointing,
                slaved=True,
            )
            self.last_reason = None
        self._on_event("slaving_started", {"mount": self.mount.name})
        described = self.describe()
        assert described is not None
        return described

    def _read_mount(self) -> MountReading:
        assert self.mount is not None
        try:
            return self.mount.read()
        except Exception as exc:  # any failure of the client: the mount is lost
            raise NotConnectedError(f"the telescope does not answer: {exc}") from None

    @property
    def slaved(self) -> bool:
        target = self._target
        return target is not None and target.slaved

    def _check_altitude(self, name: str, p: Pointing) -> None:
        if p.altitude < self.min_altitude_deg:
            raise BelowHorizonError(
                f"{name} is at altitude {p.altitude:.1f} deg, below the limit of "
                f"{self.min_altitude_deg:.1f} deg"
            )

    def stop(self) -> None:
        with self._lock:
            self._target = None
        self._controller.stop()

    def abort(self) -> None:
        with self._lock:
            self._target = None
        self._controller.abort()

    def park(self) -> None:
        with self._lock:
            self._target = None
        self._controller.park()

    # --- the periodic update ---
    def update(self) -> Pointing | None:
        """Recompute the slit azimuth for now and hand it to the controller."""
        reading: MountReading | None = None
        target = self._target
        if target is not None and target.slaved:
            # the telescope is read outside the lock: a slow mount never delays a stop
            try:
                reading = self._read_mount()
            except NotConnectedError as exc:
                with self._lock:
                    if self._target is not target:
                        return None
                    self._target = None
                    self.last_reason = f"stopped following the telescope: {exc}"
                self._controller.stop()
                self._on_event("slaving_stopped", {"reason": self.last_reason})
                log.warning("mount lost: stopped following", error=str(exc))
                return None
        with self._lock:
            if self._target is not target:
                return None
            if target is None:
                return None
            if self._controller.state is not State.TRACKING:
                self._target = None
                return None
            started = _time.perf_counter()
            if reading is not None:
                target.ra_deg, target.dec_deg = reading.ra_hours * 15.0, reading.dec_deg
                pointing = self.calculator.slit(
                    reading.altitude_deg, reading.azimuth_deg, reading.side_of_pier
                )
            else:
                pointing = self.calculator.pointing(target.ra_deg, target.dec_deg, self._now())
            self.last_update_s = _time.perf_counter() - started
            target.last = pointing
            if pointing.altitude < self.min_altitude_deg:
                self._target = None
                self.last_reason = (
                    f"{target.name} went below the altitude limit ({pointing.altitude:.1f} deg)"
                )
                self._controller.stop()
                self._on_event("tracking_stopped", {"reason": self.last_reason})
                return pointing
            self._controller.update_tracking(pointing.dome_azimuth)
            return pointing

    def describe(self) -> dict[str, Any] | None:
        target = self._target
        if target is None:
            return None
        p = target.last
        return {
            "name": target.name,
            "ra_deg": target.ra_deg,
            "dec_deg": target.dec_deg,
            "altitude": p.altitude if p else None,
            "azimuth": p.azimuth if p else None,
            "dome_azimuth": p.dome_azimuth if p else None,
            "rule": p.rule if p else None,
            "pier_side": p.pier_side if p else None,
            "started": target.started,
            "slaved": target.slaved,
        }

    def start_thread(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.update_s):
            try:
                self.update()
            except Exception as exc:  # a bad sky computation must not kill tracking silently
                log.error("tracking update failed", error=repr(exc))


def build_calculator(settings: DomeSettings, corrections: CorrectionTable | None) -> SlitCalculator:
    geometry = DomeGeometry(
        radius_m=settings.dome_radius_m,
        latitude_deg=settings.latitude_deg,
        mount_offset_east_m=settings.mount_offset_east_m,
        mount_offset_north_m=settings.mount_offset_north_m,
        mount_offset_up_m=settings.mount_offset_up_m,
        optical_offset_m=settings.optical_offset_m,
    )
    site = Site(settings.latitude_deg, settings.longitude_deg, settings.elevation_m)
    pier = PierPolicy(settings.pier_side, settings.meridian_flip_offset_deg)
    return SlitCalculator(site, geometry, corrections, pier)


def build_tracking(
    settings: DomeSettings,
    controller: Controller,
    on_event: Callable[[str, dict[str, Any]], None],
    mount: Mount | None = None,
) -> TrackingService:
    try:
        corrections = CorrectionTable.load(settings.corrections_file)
    except CorrectionTableError as exc:
        log.error("correction table unusable: geometry only", error=str(exc))
        corrections = None
    return TrackingService(
        controller,
        build_calculator(settings, corrections),
        update_s=settings.tracking_update_s,
        dead_band_deg=settings.tracking_dead_band_deg,
        min_altitude_deg=settings.min_altitude_deg,
        on_event=on_event,
        mount=mount,
    )
