"""The daemon's instruments as ophyd devices, over its HTTP API, so a Bluesky RunEngine runs
standard plans (``count``, ``scan``, ``grid_scan``, ...) against the daemon.

Needs the ``bluesky`` extra (``pip install daq[bluesky]``: bluesky and ophyd, pinned)::

    from bluesky import RunEngine
    from bluesky.plans import grid_scan
    from daq.bluesky import DaqClient

    daq = DaqClient("http://labpc.lab.internal:8470", token)
    meter, stage_x, plate = daq.reading("meter.power"), daq.axis("stage", 1), daq.mount("mount0")
    RE = RunEngine()
    RE(grid_scan([meter], stage_x, -1, 1, 5, plate, 0, 90, 7))

A reading is a detector with two signals, the value and whether the instrument called it
good (a saturated 1830-C reading is recorded with ``good`` false, not dropped). A move
waits until the daemon reports it done, and carries a fresh request id so a retried HTTP
request can never move twice. The daemon's own checks apply: a target past an axis'
limits is refused before anything moves, and the plan fails with the daemon's message.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from ophyd import Component, Device, Signal, SignalRO
from ophyd.status import Status


class DaqError(RuntimeError):
    """The daemon refused a request or could not do it; the message is its detail."""


class DaqClient:
    def __init__(self, url: str, token: str, timeout: float = 120.0) -> None:
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise DaqError(f"{method} {path}: {response.status_code} {detail}")
        return response.json()

    def reading(self, name: str, *, label: str | None = None) -> DaqReading:
        return DaqReading(self, name, name=label or name.replace(".", "_"))

    def axis(self, instrument: str, number: int, *, label: str | None = None) -> DaqMotor:
        path = f"/api/stages/{instrument}/axes/{number}"
        return DaqMotor(
            self,
            read_path=path,
            move_path=f"{path}/move",
            body=lambda target: {"position": target, "wait": True},
            reply_key="position",
            name=label or f"{instrument}_axis{number}",
        )

    def mount(self, name: str, *, label: str | None = None) -> DaqMotor:
        return DaqMotor(
            self,
            read_path=f"/api/mounts/{name}",
            move_path=f"/api/mounts/{name}/move",
            body=lambda target: {"angle_deg": target},
            reply_key="angle_deg",
            name=label or name,
        )

    def close(self) -> None:
        self.http.close()


class _ReadingValue(SignalRO):  # type: ignore[misc]
    """The reading's value, taken from the daemon when the detector is triggered."""


class DaqReading(Device):  # type: ignore[misc]
    """A daemon reading as a detector: ``trigger()`` takes one reading, ``read()`` gives
    its value and whether the instrument called it good."""

    value = Component(_ReadingValue, value=float("nan"), kind="hinted")
    good = Component(_ReadingValue, value=True, kind="normal")

    def __init__(self, client: DaqClient, reading: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.reading = reading

    def trigger(self) -> Status:
        status = Status(obj=self)
        try:
            sample = self.client.call("GET", f"/api/readings/{self.reading}")
            self.value._readback = float(sample["value"])
            self.good._readback = bool(sample["good"])
            status.set_finished()
        except Exception as exc:  # the plan sees the daemon's reason
            status.set_exception(exc)
        return status


class DaqMotor(Signal):  # type: ignore[misc]
    """An axis or a mount as a settable signal: ``set(target)`` moves through the daemon
    and finishes when the move is done; the reading is where it ended up."""

    def __init__(
        self,
        client: DaqClient,
        *,
        read_path: str,
        move_path: str,
        body: Any,
        reply_key: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.read_path = read_path
        self.move_path = move_path
        self.body = body
        self.reply_key = reply_key

    def get(self, **kwargs: Any) -> float:
        state = self.client.call("GET", self.read_path)
        value = float(state[self.reply_key])
        self._readback = value
        return value

    def put(self, value: float, **kwargs: Any) -> None:
        body = {**self.body(float(value)), "request_id": uuid.uuid4().hex}
        reached = self.client.call("POST", self.move_path, body)
        super().put(float(reached[self.reply_key]), **kwargs)

    @property
    def position(self) -> float:
        return float(self._readback)
