"""The shutter's outputs and limit switches: GPIO relays and switches, or a Shelly Gen2
relay device over HTTP (its Switch and Input components).

Shelly Gen2 RPC, from Shelly's API documentation (shelly-api-docs.shelly.cloud, gen2:
"RPC Channels", "Switch", "Input"): a call is an HTTP POST to ``/rpc`` of the frame
``{"id": n, "src": ..., "method": "Switch.Set", "params": {"id": 0, "on": true}}``; the
answer frame carries ``result`` or ``error`` (``{"code", "message"}``).
``Switch.Set`` takes ``id``, ``on`` and ``toggle_after`` (seconds after which the output
flips back: we use it so the relay opens by itself if the controller dies mid-travel);
``Input.GetStatus`` answers ``{"id": 0, "state": true}`` for a switch input. The
observatory's DriftApp-Web drives its shutter the same way (core/hardware/motor_shelly.py).
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from dome.core.ports import DigitalInput, ShutterLimits, ShutterMotion
from dome.hardware.gpio import GpioOutput


class LimitPair:
    """The open and closed limit switches as two digital inputs."""

    def __init__(self, open_limit: DigitalInput, closed_limit: DigitalInput) -> None:
        self._open = open_limit
        self._closed = closed_limit

    def limits(self) -> ShutterLimits:
        return ShutterLimits(open=self._open.active(), closed=self._closed.active())

    def close(self) -> None:
        self._open.close()
        self._closed.close()


class GpioShutter:
    """Two relays on GPIO, switched break-before-make, and the limits from ``limits``."""

    def __init__(self, open_out: GpioOutput, close_out: GpioOutput, limits: Any) -> None:
        self._open = open_out
        self._close = close_out
        self._limits = limits
        self._open.set(False)
        self._close.set(False)

    def drive(self, motion: ShutterMotion) -> None:
        if motion is ShutterMotion.OPEN:
            self._close.set(False)
            self._open.set(True)
        elif motion is ShutterMotion.CLOSE:
            self._open.set(False)
            self._close.set(True)
        else:
            self._open.set(False)
            self._close.set(False)

    def limits(self) -> ShutterLimits:
        result: ShutterLimits = self._limits.limits()
        return result

    def close(self) -> None:
        self.drive(ShutterMotion.STOP)
        self._limits.close()


class ShellyRpc:
    """A Shelly Gen2 device's JSON-RPC over HTTP."""

    def __init__(self, base_url: str, timeout_s: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout_s)
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> Any:
        frame = {"id": next(self._ids), "src": "dome", "method": method, "params": params}
        try:
            r = self._client.post(f"{self.base_url}/rpc", json=frame)
            r.raise_for_status()
            reply = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OSError(f"Shelly {self.base_url}: {method}: {exc}") from None
        if not isinstance(reply, dict):
            raise OSError(f"Shelly {self.base_url}: {method}: not a JSON-RPC frame")
        if "error" in reply:
            err = reply["error"] or {}
            raise OSError(
                f"Shelly {self.base_url}: {method}: error {err.get('code')}: {err.get('message')}"
            )
        return reply.get("result")

    def close(self) -> None:
        self._client.close()


class ShellyInput:
    """A switch on a Shelly's input (an Uni's or a Plus's SW terminal)."""

    def __init__(self, rpc: ShellyRpc, input_id: int, *, active_when: bool = True) -> None:
        self._rpc = rpc
        self._id = input_id
        self._active_when = active_when

    def active(self) -> bool:
        result = self._rpc.call("Input.GetStatus", id=self._id)
        state = result.get("state") if isinstance(result, dict) else None
        if not isinstance(state, bool):
            raise OSError(f"Shelly input {self._id}: no boolean state in {result!r}")
        return state == self._active_when

    def close(self) -> None:
        pass


class ShellyShutter:
    """Open and close relays on a Shelly's two Switch components; each switched on with a
    ``toggle_after`` a little longer than the travel timeout, so the Shelly switches the
    motor off by itself if the controller dies (or loses the network) mid-travel."""

    def __init__(
        self,
        rpc: ShellyRpc,
        open_id: int,
        close_id: int,
        limits: Any,
        *,
        safety_off_s: float,
    ) -> None:
        self._rpc = rpc
        self._open = open_id
        self._close = close_id
        self._limits = limits
        self._safety_off_s = safety_off_s

    def _set(self, switch: int, on: bool) -> None:
        if on:
            self._rpc.call("Switch.Set", id=switch, on=True, toggle_after=self._safety_off_s)
        else:
            self._rpc.call("Switch.Set", id=switch, on=False)

    def drive(self, motion: ShutterMotion) -> None:
        if motion is ShutterMotion.OPEN:
            self._set(self._close, False)
            self._set(self._open, True)
        elif motion is ShutterMotion.CLOSE:
            self._set(self._open, False)
            self._set(self._close, True)
        else:
            self._set(self._open, False)
            self._set(self._close, False)

    def limits(self) -> ShutterLimits:
        result: ShutterLimits = self._limits.limits()
        return result

    def close(self) -> None:
        try:
            self.drive(ShutterMotion.STOP)
        finally:
            self._limits.close()
            self._rpc.close()
