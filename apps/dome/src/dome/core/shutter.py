"""The shutter: two motor outputs (open, close), two limit switches, a travel timeout.

States follow ASCOM's ShutterState (0 open, 1 closed, 2 opening, 3 closing, 4 error).
One motion at a time goes to the drive, so both outputs are never asked for at once;
the motor stops at the limit it was heading for, or at the travel timeout (error). A
thread calls :meth:`Shutter.tick` a few times a second; commands come from the IPC
threads, under the same lock.

Opening is refused while the safety source says unsafe (or cannot be read), and, with
the interlock on, while the dome rotates; closing is always allowed except, with the
interlock, while the dome rotates (the safety handler stops the rotation first).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import Any

from dome.core.errors import InvalidStateError, UnsafeError
from dome.core.ports import ShutterDrive, ShutterLimits, ShutterMotion

EventSink = Callable[[str, dict[str, Any]], None]
Gate = Callable[[], str | None]


class ShutterState(enum.IntEnum):
    OPEN = 0
    CLOSED = 1
    OPENING = 2
    CLOSING = 3
    ERROR = 4

    @property
    def label(self) -> str:
        return self.name.lower()


def _noop(kind: str, data: dict[str, Any]) -> None:
    pass


class Shutter:
    def __init__(
        self,
        drive: ShutterDrive,
        travel_timeout_s: float,
        clock: Callable[[], float],
        on_event: EventSink = _noop,
    ) -> None:
        self._drive = drive
        self.travel_timeout_s = travel_timeout_s
        self._clock = clock
        self._emit = on_event
        self._lock = threading.RLock()
        self.state = ShutterState.ERROR
        self.error: str | None = "not read yet"
        self.limits: ShutterLimits | None = None
        self._deadline: float | None = None
        self._left_limit = False
        # a travel fault stays shown until the next command, even if a limit is active
        self._latched = False
        # asked before opening: the safety monitor's refusal, or None
        self.open_gate: Gate | None = None
        # asked before any motion: the rotation interlock's refusal, or None
        self.motion_gate: Gate | None = None

    @property
    def moving(self) -> bool:
        return self.state in (ShutterState.OPENING, ShutterState.CLOSING)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "state": self.state.label,
                "ascom": int(self.state),
                "error": self.error,
                "open_limit": self.limits.open if self.limits else None,
                "closed_limit": self.limits.closed if self.limits else None,
            }

    # --- the periodic check ---------------------------------------------------------
    def tick(self) -> None:
        with self._lock:
            try:
                limits = self._drive.limits()
            except OSError as exc:
                self.limits = None
                self._fail(f"limit switches unreadable: {exc}")
                return
            self.limits = limits
            if limits.open and limits.closed:
                self._fail("both limit switches are active: check the wiring")
                return
            now = self._clock()
            if self.state is ShutterState.OPENING:
                self._track(limits.open, limits.closed, now, ShutterState.OPEN, "open")
            elif self.state is ShutterState.CLOSING:
                self._track(limits.closed, limits.open, now, ShutterState.CLOSED, "closed")
            elif self._latched:
                return
            elif limits.open:
                self._settle(ShutterState.OPEN)
            elif limits.closed:
                self._settle(ShutterState.CLOSED)
            else:
                self._fail("no limit switch is active: the shutter is between its limits")

    def _track(
        self, reached: bool, start_limit: bool, now: float, done: ShutterState, name: str
    ) -> None:
        if reached:
            self._stop_drive()
            self._deadline = None
            self.state, self.error = done, None
            self._emit("shutter", {"state": done.label})
            return
        self._left_limit = self._left_limit or not start_limit
        if self._deadline is not None and now > self._deadline:
            why = (
                "it never left the other limit: stuck?"
                if not self._left_limit
                else "its limit switch never tripped"
            )
            self._fail(f"did not reach the {name} limit within {self.travel_timeout_s:g} s: {why}")
            self._latched = True

    def _settle(self, state: ShutterState) -> None:
        if self.state is not state:
            self.state, self.error = state, None
            self._emit("shutter", {"state": state.label})

    def _stop_drive(self) -> None:
        try:
            self._drive.drive(ShutterMotion.STOP)
        except OSError as exc:
            self.error = f"could not stop the shutter motor: {exc}"

    def _fail(self, reason: str) -> None:
        self._stop_drive()
        self._deadline = None
        if self.state is not ShutterState.ERROR or self.error != reason:
            self.state, self.error = ShutterState.ERROR, reason
            self._emit("shutter_error", {"reason": reason})

    # --- commands -----------------------------------------------------------------------
    def open(self) -> None:
        with self._lock:
            if self.open_gate is not None and (reason := self.open_gate()) is not None:
                raise UnsafeError(f"the shutter stays closed: {reason}")
            self._start(ShutterMotion.OPEN, ShutterState.OPENING, ShutterState.OPEN)

    def close(self) -> None:
        with self._lock:
            self._start(ShutterMotion.CLOSE, ShutterState.CLOSING, ShutterState.CLOSED)

    def _start(self, motion: ShutterMotion, moving: ShutterState, done: ShutterState) -> None:
        if self.state in (moving, done):
            return
        if self.motion_gate is not None and (reason := self.motion_gate()) is not None:
            raise InvalidStateError(reason)
        if self.limits is not None and self.limits.open and self.limits.closed:
            raise InvalidStateError(f"shutter in error: {self.error}")
        try:
            if self.moving:
                self._drive.drive(ShutterMotion.STOP)  # reversing: stop first
            self._drive.drive(motion)
        except OSError as exc:
            self._fail(f"could not drive the shutter: {exc}")
            raise InvalidStateError(f"could not drive the shutter: {exc}") from None
        self._deadline = self._clock() + self.travel_timeout_s
        self._left_limit = False
        self._latched = False
        self.state, self.error = moving, None
        self._emit("shutter", {"state": moving.label})

    def stop(self) -> None:
        with self._lock:
            if not self.moving:
                return
            self._stop_drive()
            self._deadline = None
            self.state = ShutterState.ERROR
            self.error = "stopped between the limits"
            self._latched = True
            self._emit("shutter", {"state": "stopped"})
