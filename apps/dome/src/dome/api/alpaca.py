"""The ASCOM Alpaca Dome API (device API v1), the management API and access control.

Envelopes follow the Alpaca spec: every answer is HTTP 200 JSON with ``Value`` (reads),
``ClientTransactionID``, ``ServerTransactionID``, ``ErrorNumber`` and ``ErrorMessage``; a
device error is a non-zero ``ErrorNumber``; HTTP 400 (plain text) is for a malformed
request (a missing or unparsable parameter). Parameter names are case-insensitive.
"""

from __future__ import annotations

import base64
import datetime
import hmac
import ipaddress
import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from dome import __version__
from dome.api.deps import AppState
from dome.core import errors

NOT_IMPLEMENTED = 0x400
INVALID_VALUE = 0x401
VALUE_NOT_SET = 0x402
NOT_CONNECTED = 0x407
INVALID_WHILE_PARKED = 0x408
INVALID_OPERATION = 0x40B
ACTION_NOT_IMPLEMENTED = 0x40C
DRIVER_FAULT = 0x500
CONTROL_UNREACHABLE = 0x501

ALPACA_ERRORS: dict[type[errors.DomeError], int] = {
    errors.InvalidValueError: INVALID_VALUE,
    errors.ParkedError: INVALID_WHILE_PARKED,
    errors.InvalidStateError: INVALID_OPERATION,
    errors.FaultedError: DRIVER_FAULT,
    errors.NotConnectedError: CONTROL_UNREACHABLE,
    errors.UnsafeError: INVALID_OPERATION,
    errors.NotImplementedByDomeError: NOT_IMPLEMENTED,
}

DEVICE_NAME = "Observatory dome"
UNIQUE_ID = "5b1c7a2e-6d0f-4f43-9a57-dome00000000"
# IDomeV3 (ASCOM Platform 7): Connect, Disconnect, Connecting and DeviceState are served
INTERFACE_VERSION = 3


class AlpacaError(Exception):
    def __init__(self, number: int, message: str) -> None:
        super().__init__(message)
        self.number = number
        self.message = message


class BadRequestError(Exception):
    """HTTP 400: the request itself is malformed."""


def alpaca_number(exc: errors.DomeError) -> int:
    for kind in type(exc).__mro__:
        if kind in ALPACA_ERRORS:
            return ALPACA_ERRORS[kind]
    return DRIVER_FAULT


# --- access -------------------------------------------------------------------------
def check_access(state: AppState, request: Request) -> None:
    """Alpaca clients send no token: who may use this API is set by config."""
    s = state.settings
    if s.alpaca_access == "off":
        raise HTTPException(403, "the Alpaca API is switched off (DOME_ALPACA_ACCESS=off)")
    host = request.client.host if request.client else ""
    if not client_allowed(host, s.alpaca_allow_networks):
        raise HTTPException(403, f"client {host} is not in DOME_ALPACA_ALLOW_NETWORKS")
    if s.alpaca_basic_user and s.alpaca_basic_password is not None:
        header = request.headers.get("authorization", "")
        ok = False
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = "", ""
            ok = hmac.compare_digest(user, s.alpaca_basic_user) and hmac.compare_digest(
                password, s.alpaca_basic_password.get_secret_value()
            )
        if not ok:
            raise HTTPException(
                401,
                "HTTP Basic authentication required",
                headers={"WWW-Authenticate": 'Basic realm="dome"'},
            )


def client_allowed(host: str, networks: list[str]) -> bool:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if addr.is_loopback:
        return True
    return any(addr in ipaddress.ip_network(net, strict=False) for net in networks)


# --- parameters ---------------------------------------------------------------------
async def _params(request: Request) -> dict[str, str]:
    if request.method == "PUT":
        form = await request.form()
        items = [(k, str(v)) for k, v in form.multi_items()]
    else:
        items = list(request.query_params.multi_items())
    return {k.lower(): v for k, v in items}


def _uint(params: dict[str, str], name: str) -> int:
    text = params.get(name.lower())
    if text is None or text == "":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise BadRequestError(f"{name} must be an unsigned integer, got {text!r}") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise BadRequestError(f"{name} must be an unsigned 32-bit integer, got {text!r}")
    return value


def _float(params: dict[str, str], name: str) -> float:
    text = params.get(name.lower())
    if text is None:
        raise BadRequestError(f"missing parameter {name}")
    try:
        return float(text)
    except ValueError:
        raise BadRequestError(f"{name} must be a number, got {text!r}") from None


def _bool(params: dict[str, str], name: str) -> bool:
    text = params.get(name.lower())
    if text is None:
        raise BadRequestError(f"missing parameter {name}")
    if text.lower() not in ("true", "false"):
        raise BadRequestError(f"{name} must be true or false, got {text!r}")
    return text.lower() == "true"


def _azimuth(params: dict[str, str]) -> float:
    az = _float(params, "Azimuth")
    if not math.isfinite(az) or not 0 <= az < 360:
        raise AlpacaError(INVALID_VALUE, f"Azimuth must be in [0, 360) degrees, got {az}")
    return az


# --- the router -----------------------------------------------------------------------
Handler = Callable[[AppState, dict[str, str], int], Awaitable[Any]]


def build_router(get_state: Callable[[Request], AppState]) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def status(state: AppState) -> dict[str, Any]:
        result: dict[str, Any] = await state.ipc.call("status")
        return result

    def connected(state: AppState, device: int) -> None:
        if not state.alpaca_connected.get(device, False):
            raise AlpacaError(NOT_CONNECTED, "not connected: set Connected to true first")

    async def reply(request: Request, device: int, handler: Handler) -> Response:
        state = get_state(request)
        check_access(state, request)
        state.server_transaction += 1
        try:
            params = await _params(request)
            client_tx = _uint(params, "ClientTransactionID")
            _uint(params, "ClientID")
        except BadRequestError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        body: dict[str, Any] = {
            "ClientTransactionID": client_tx,
            "ServerTransactionID": state.server_transaction,
            "ErrorNumber": 0,
            "ErrorMessage": "",
        }
        if device not in state.alpaca_connected:
            return PlainTextResponse(f"no dome with device number {device}", status_code=400)
        try:
            value = await handler(state, params, device)
            if request.method == "GET":
                body["Value"] = value
        except BadRequestError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        except AlpacaError as exc:
            body["ErrorNumber"], body["ErrorMessage"] = exc.number, exc.message
        except errors.DomeError as exc:
            body["ErrorNumber"], body["ErrorMessage"] = alpaca_number(exc), str(exc)
        return JSONResponse(body)

    def not_implemented(what: str) -> Handler:
        async def handler(state: AppState, params: dict[str, str], device: int) -> Any:
            raise AlpacaError(NOT_IMPLEMENTED, f"{what} is not implemented by this dome")

        return handler

    def constant(value: Any) -> Handler:
        async def handler(state: AppState, params: dict[str, str], device: int) -> Any:
            return value

        return handler

    def read(field: str, transform: Callable[[Any], Any] = lambda v: v) -> Handler:
        async def handler(state: AppState, params: dict[str, str], device: int) -> Any:
            connected(state, device)
            return transform((await status(state))[field])

        return handler

    def command(op: str, **fixed: Any) -> Handler:
        async def handler(state: AppState, params: dict[str, str], device: int) -> Any:
            connected(state, device)
            await state.ipc.call(op, **fixed)

        return handler

    async def get_connected(state: AppState, params: dict[str, str], device: int) -> Any:
        return state.alpaca_connected[device]

    async def put_connected(state: AppState, params: dict[str, str], device: int) -> Any:
        state.alpaca_connected[device] = _bool(params, "Connected")

    async def connect(state: AppState, params: dict[str, str], device: int) -> Any:
        state.alpaca_connected[device] = True

    async def disconnect(state: AppState, params: dict[str, str], device: int) -> Any:
        state.alpaca_connected[device] = False

    async def azimuth(state: AppState, params: dict[str, str], device: int) -> Any:
        connected(state, device)
        value = (await status(state))["azimuth"]
        if value is None:
            raise AlpacaError(VALUE_NOT_SET, "no valid encoder reading yet")
        return value

    def moving(s: dict[str, Any]) -> bool:
        shutter = s.get("shutter") or {}
        return (
            bool(s["moving"])
            or s["state"] in ("slewing", "homing")
            or shutter.get("state") in ("opening", "closing")
        )

    async def slewing(state: AppState, params: dict[str, str], device: int) -> Any:
        connected(state, device)
        return moving(await status(state))

    async def can_set_shutter(state: AppState, params: dict[str, str], device: int) -> Any:
        return (await status(state)).get("shutter") is not None

    async def can_slave(state: AppState, params: dict[str, str], device: int) -> Any:
        return bool((await status(state)).get("can_slave"))

    async def shutter_status(state: AppState, params: dict[str, str], device: int) -> Any:
        connected(state, device)
        shutter = (await status(state)).get("shutter")
        if shutter is None:
            raise AlpacaError(NOT_IMPLEMENTED, "this dome has no shutter")
        return int(shutter["ascom"])

    async def get_slaved(state: AppState, params: dict[str, str], device: int) -> Any:
        connected(state, device)
        return bool((await status(state)).get("slaved"))

    async def slew_to_azimuth(state: AppState, params: dict[str, str], device: int) -> Any:
        az = _azimuth(params)
        connected(state, device)
        await state.ipc.call("goto", azimuth=az)

    async def sync_to_azimuth(state: AppState, params: dict[str, str], device: int) -> Any:
        az = _azimuth(params)
        connected(state, device)
        await state.ipc.call("sync", azimuth=az)

    async def put_slaved(state: AppState, params: dict[str, str], device: int) -> Any:
        slave = _bool(params, "Slaved")
        connected(state, device)
        await state.ipc.call("slave" if slave else "unslave")

    async def device_state(state: AppState, params: dict[str, str], device: int) -> Any:
        """IDomeV3 DeviceState: the operational properties this dome implements, and a
        TimeStamp (ASCOMLibrary DomeState: Altitude, AtHome, AtPark, Azimuth,
        ShutterStatus, Slewing, TimeStamp; Altitude is not implemented here)."""
        connected(state, device)
        s = await status(state)
        out: list[dict[str, Any]] = [
            {"Name": "AtHome", "Value": s["at_home"]},
            {"Name": "AtPark", "Value": s["at_park"]},
        ]
        if s["azimuth"] is not None:
            out.append({"Name": "Azimuth", "Value": s["azimuth"]})
        if s.get("shutter") is not None:
            out.append({"Name": "ShutterStatus", "Value": int(s["shutter"]["ascom"])})
        out.append({"Name": "Slewing", "Value": moving(s)})
        stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")
        out.append({"Name": "TimeStamp", "Value": stamp.replace("+00:00", "Z")})
        return out

    get_members: dict[str, Handler] = {
        "connected": get_connected,
        "connecting": constant(False),
        "description": constant("Observatory dome: stepper-driven rotation, absolute encoder"),
        "driverinfo": constant("dome controller (lab), Alpaca Dome v1"),
        "driverversion": constant(__version__),
        "interfaceversion": constant(INTERFACE_VERSION),
        "name": constant(DEVICE_NAME),
        "supportedactions": constant([]),
        "devicestate": device_state,
        "altitude": not_implemented("Altitude"),
        "athome": read("at_home", bool),
        "atpark": read("at_park", bool),
        "azimuth": azimuth,
        "canfindhome": constant(True),
        "canpark": constant(True),
        "cansetaltitude": constant(False),
        "cansetazimuth": constant(True),
        "cansetpark": constant(True),
        "cansetshutter": can_set_shutter,
        "canslave": can_slave,
        "cansyncazimuth": constant(True),
        "shutterstatus": shutter_status,
        "slaved": get_slaved,
        "slewing": slewing,
    }
    put_members: dict[str, Handler] = {
        "connected": put_connected,
        "connect": connect,
        "disconnect": disconnect,
        "action": not_implemented("Action"),
        "commandblind": not_implemented("CommandBlind"),
        "commandbool": not_implemented("CommandBool"),
        "commandstring": not_implemented("CommandString"),
        "abortslew": command("abort"),
        "closeshutter": command("shutter_close"),
        "openshutter": command("shutter_open"),
        "findhome": command("find_home"),
        "park": command("park"),
        "setpark": command("set_park"),
        "slewtoaltitude": not_implemented("SlewToAltitude"),
        "slewtoazimuth": slew_to_azimuth,
        "synctoazimuth": sync_to_azimuth,
        "slaved": put_slaved,
    }

    @router.api_route("/api/v1/dome/{device_number}/{member}", methods=["GET", "PUT"])
    async def device(request: Request, device_number: str, member: str) -> Response:
        if not device_number.isdigit():
            return PlainTextResponse(
                f"device number must be an integer, got {device_number!r}", 400
            )
        table = get_members if request.method == "GET" else put_members
        handler = table.get(member.lower())
        if handler is None:
            other = put_members if request.method == "GET" else get_members
            if member.lower() in other:
                return PlainTextResponse(f"{member} does not accept {request.method}", 405)
            handler = not_implemented(member)
        return await reply(request, int(device_number), handler)

    async def management(request: Request, value: Any) -> Response:
        state = get_state(request)
        check_access(state, request)
        state.server_transaction += 1
        try:
            client_tx = _uint(
                {k.lower(): v for k, v in request.query_params.items()}, "ClientTransactionID"
            )
        except BadRequestError as exc:
            return PlainTextResponse(str(exc), 400)
        return JSONResponse(
            {
                "Value": value,
                "ClientTransactionID": client_tx,
                "ServerTransactionID": state.server_transaction,
                "ErrorNumber": 0,
                "ErrorMessage": "",
            }
        )

    @router.get("/management/apiversions")
    async def api_versions(request: Request) -> Response:
        return await management(request, [1])

    @router.get("/management/v1/description")
    async def description(request: Request) -> Response:
        return await management(
            request,
            {
                "ServerName": "dome controller",
                "Manufacturer": "lab",
                "ManufacturerVersion": __version__,
                "Location": "observatory",
            },
        )

    @router.get("/management/v1/configureddevices")
    async def configured(request: Request) -> Response:
        return await management(
            request,
            [
                {
                    "DeviceName": DEVICE_NAME,
                    "DeviceType": "Dome",
                    "DeviceNumber": 0,
                    "UniqueID": UNIQUE_ID,
                }
            ],
        )

    return router
