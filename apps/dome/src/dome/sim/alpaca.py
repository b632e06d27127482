"""Small ASCOM Alpaca devices on a real HTTP socket: a Telescope (a mount the dome can
follow) and a SafetyMonitor. Used by the tests, the benchmark and ``make lab``.

Written from the ASCOM Alpaca Device API specification (ASCOMInitiative/ASCOMRemote,
``Swagger/AlpacaDeviceAPI_v1.yaml``), not from our client or server code:

- ``/api/v1/{device_type}/{device_number}/{member}``, lower-case members; GET takes
  query parameters, PUT a form body; parameter names are case-insensitive;
  ``ClientID`` and ``ClientTransactionID`` are optional unsigned integers.
- Every answer is HTTP 200 JSON with ``Value`` (reads), ``ClientTransactionID``,
  ``ServerTransactionID``, ``ErrorNumber``, ``ErrorMessage``; a device error is a
  non-zero ``ErrorNumber`` (0x400 not implemented, 0x401 invalid value, 0x407 not
  connected); HTTP 400 for a malformed request, 404 for an unknown device.
- Common members: ``connected`` (GET, PUT ``Connected``), ``connect``, ``disconnect``,
  ``connecting``, ``description``, ``driverinfo``, ``driverversion``,
  ``interfaceversion``, ``name``, ``supportedactions``, ``devicestate``.
- Telescope: ``rightascension`` (hours), ``declination``, ``altitude``, ``azimuth``
  (degrees), ``sideofpier`` (PierSide: 0 pierEast, 1 pierWest, -1 unknown),
  ``siderealtime``, ``tracking``, ``slewing``, ``atpark``; InterfaceVersion 4.
- SafetyMonitor: ``issafe``; InterfaceVersion 3.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

NOT_IMPLEMENTED = 0x400
NOT_CONNECTED = 0x407


class _DeviceError(Exception):
    def __init__(self, number: int, message: str) -> None:
        super().__init__(message)
        self.number = number
        self.message = message


@dataclass
class SimMount:
    """A German equatorial mount: where it points (alt/az, RA/Dec) and its pier side.
    The test (or the lab) moves it with :meth:`point`."""

    latitude_deg: float = 52.0
    longitude_deg: float = 5.0
    altitude_deg: float = 45.0
    azimuth_deg: float = 180.0
    side: int = 0  # PierSide: 0 east, 1 west, -1 unknown
    side_implemented: bool = True
    tracking: bool = True
    slewing: bool = False
    # azimuth drift (deg/s): a mount that moves by itself (the benchmark's, the lab's)
    drift_deg_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _since: float = field(default_factory=time.monotonic)
    _cache: tuple[tuple[float, float, int], tuple[float, float]] | None = None

    def point(self, altitude: float, azimuth: float, side: int | None = None) -> None:
        with self.lock:
            self.altitude_deg, self.azimuth_deg = altitude, azimuth
            self._since = time.monotonic()
            if side is not None:
                self.side = side

    def azimuth(self) -> float:
        with self.lock:
            return (self.azimuth_deg + self.drift_deg_s * (time.monotonic() - self._since)) % 360

    def equatorial(self) -> tuple[float, float]:
        """RA (hours) and Dec of where it points now, from alt/az (astropy, offline;
        computed once a second, as a mount's own display would)."""
        az = self.azimuth()
        key = (self.altitude_deg, round(az, 2), int(time.time()))
        cached = self._cache
        if cached is not None and cached[0] == key:
            return cached[1]
        value = self._equatorial(self.altitude_deg, az)
        self._cache = (key, value)
        return value

    def _equatorial(self, alt: float, az: float) -> tuple[float, float]:
        import warnings

        from astropy import units as u
        from astropy.coordinates import AltAz, EarthLocation, SkyCoord
        from astropy.time import Time
        from astropy.utils import iers

        iers.conf.auto_download = False  # offline, as the controller is
        iers.conf.auto_max_age = None
        loc = EarthLocation(lat=self.latitude_deg * u.deg, lon=self.longitude_deg * u.deg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = SkyCoord(
                alt=alt * u.deg,
                az=az * u.deg,
                frame=AltAz(obstime=Time.now(), location=loc),
            ).icrs
        return float(c.ra.hour), float(c.dec.deg)


class AlpacaDeviceServer:
    """One Alpaca device of ``device_type`` at device number 0."""

    def __init__(
        self,
        device_type: str,
        interface_version: int,
        members: dict[str, Callable[[], Any]],
        name: str,
    ) -> None:
        self.device_type = device_type
        self.interface_version = interface_version
        self.members = members
        self.name = name
        self.connected = False
        self.offline = False  # answer nothing useful: HTTP 500
        self._tx = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.requests: list[tuple[str, str]] = []

    def _common(self, member: str, method: str, params: dict[str, str]) -> Any:
        if method == "PUT":
            if member == "connected":
                text = params.get("connected")
                if text is None or text.lower() not in ("true", "false"):
                    raise ValueError("Connected must be true or false")
                self.connected = text.lower() == "true"
                return None
            if member == "connect":
                self.connected = True
                return None
            if member == "disconnect":
                self.connected = False
                return None
            raise _DeviceError(NOT_IMPLEMENTED, f"{member} is not implemented")
        common: dict[str, Callable[[], Any]] = {
            "connected": lambda: self.connected,
            "connecting": lambda: False,
            "description": lambda: f"simulated {self.device_type}",
            "driverinfo": lambda: "dome tests: simulated Alpaca device",
            "driverversion": lambda: "1.0",
            "interfaceversion": lambda: self.interface_version,
            "name": lambda: self.name,
            "supportedactions": list,
        }
        if member in common:
            return common[member]()
        if member not in self.members and member != "devicestate":
            raise _DeviceError(NOT_IMPLEMENTED, f"{member} is not implemented")
        if not self.connected:
            raise _DeviceError(NOT_CONNECTED, "not connected")
        if member == "devicestate":
            return [{"Name": k, "Value": f()} for k, f in self.members.items()]
        return self.members[member]()

    def run(self) -> str:
        """Serve on 127.0.0.1 and a free port; returns HOST:PORT (alpyca's address)."""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                parts = url.path.strip("/").split("/")
                if outer.offline:
                    self._send(500, b"device offline", "text/plain")
                    return
                if (
                    len(parts) != 5
                    or parts[:2] != ["api", "v1"]
                    or parts[2] != outer.device_type
                    or parts[3] != "0"
                ):
                    self._send(404, b"no such device", "text/plain")
                    return
                raw = url.query
                if method == "PUT":
                    length = int(self.headers.get("Content-Length") or 0)
                    raw = self.rfile.read(length).decode()
                params = {k.lower(): v[-1] for k, v in parse_qs(raw).items()}
                member = parts[4].lower()
                outer.requests.append((method, member))
                try:
                    tx = int(params.get("clienttransactionid", "0") or 0)
                    if tx < 0:
                        raise ValueError
                except ValueError:
                    self._send(
                        400, b"ClientTransactionID must be an unsigned integer", "text/plain"
                    )
                    return
                with outer._lock:
                    outer._tx += 1
                    server_tx = outer._tx
                body: dict[str, Any] = {
                    "ClientTransactionID": tx,
                    "ServerTransactionID": server_tx,
                    "ErrorNumber": 0,
                    "ErrorMessage": "",
                }
                try:
                    value = outer._common(member, method, params)
                    if method == "GET":
                        body["Value"] = value
                except _DeviceError as exc:
                    body["ErrorNumber"], body["ErrorMessage"] = exc.number, exc.message
                except ValueError as exc:
                    self._send(400, str(exc).encode(), "text/plain")
                    return
                self._send(200, json.dumps(body).encode(), "application/json")

            def do_GET(self) -> None:
                self._serve("GET")

            def do_PUT(self) -> None:
                self._serve("PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="sim-alpaca", daemon=True).start()
        return f"127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def telescope_server(mount: SimMount) -> AlpacaDeviceServer:
    def side() -> int:
        if not mount.side_implemented:
            raise _DeviceError(NOT_IMPLEMENTED, "SideOfPier is not implemented")
        return mount.side

    members: dict[str, Callable[[], Any]] = {
        "altitude": lambda: mount.altitude_deg,
        "azimuth": mount.azimuth,
        "rightascension": lambda: mount.equatorial()[0],
        "declination": lambda: mount.equatorial()[1],
        "sideofpier": side,
        "tracking": lambda: mount.tracking,
        "slewing": lambda: mount.slewing,
        "atpark": lambda: False,
    }
    return AlpacaDeviceServer("telescope", 4, members, "Simulated mount")


@dataclass
class SimSky:
    safe: bool = True


def safety_monitor_server(sky: SimSky) -> AlpacaDeviceServer:
    return AlpacaDeviceServer(
        "safetymonitor", 3, {"issafe": lambda: sky.safe}, "Simulated weather station"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m dome.sim.alpaca telescope|safetymonitor``: serve one simulated device on
    127.0.0.1 (a free port unless ``--port``) and print HOST:PORT, until interrupted."""
    p = argparse.ArgumentParser(prog="python -m dome.sim.alpaca")
    p.add_argument("device", choices=["telescope", "safetymonitor"])
    p.add_argument("--altitude", type=float, default=45.0)
    p.add_argument("--azimuth", type=float, default=120.0)
    p.add_argument("--side", type=int, choices=[0, 1, -1], default=1)
    p.add_argument("--drift-deg-s", type=float, default=0.0)
    args = p.parse_args(argv)
    if args.device == "telescope":
        mount = SimMount(
            altitude_deg=args.altitude,
            azimuth_deg=args.azimuth,
            side=args.side,
            drift_deg_s=args.drift_deg_s,
        )
        server = telescope_server(mount)
    else:
        server = safety_monitor_server(SimSky())
    print(server.run(), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
