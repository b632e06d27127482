"""A telescope the dome follows, over ASCOM Alpaca with alpyca's Telescope client."""

from __future__ import annotations

from alpaca.exceptions import NotImplementedException
from alpaca.telescope import Telescope

from dome.core.ports import MountReading


class AlpacaMount:
    """Reads where the mount points and its side of pier; connects on first use and
    again after any failure. Every failure propagates: the caller stops following."""

    def __init__(self, address: str, device_number: int = 0) -> None:
        self.name = f"Alpaca Telescope {address}/{device_number}"
        self._scope = Telescope(address, device_number)
        self._connected = False

    def read(self) -> MountReading:
        t = self._scope
        try:
            if not self._connected:
                t.Connected = True
                self._connected = True
            alt, az = float(t.Altitude), float(t.Azimuth)
            ra, dec = float(t.RightAscension), float(t.Declination)
            try:
                side = int(t.SideOfPier)
            except NotImplementedException:
                side = -1
        except Exception:
            self._connected = False
            raise
        return MountReading(alt, az, ra, dec, {0: "east", 1: "west"}.get(side))

    def close(self) -> None:
        pass
