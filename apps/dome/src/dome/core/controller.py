"""The dome's state machine: it alone owns the motor.

``tick()`` runs once per control period (50 Hz): it reads one encoder frame (and the home
switch), runs the safety guards, and queues the next period's step pulses. Commands
(from the IPC server's threads) only change the plan under the same lock; nothing moves
except from ``tick()``.

Safety rules, all enforced here, independent of any API:
- the motor turning while the encoder does not is a stall; the encoder going the wrong
  way, the error growing, or a slew overrunning its time is a runaway: flush the queue
  now, FAULT, with the cause in the fault text (:mod:`dome.core.guards`);
- a run of bad encoder frames stops motion the same way;
- speed and acceleration never exceed the configured limits (:mod:`dome.core.motion`);
- DIR changes only once the pulse engine reports its queue empty; until then the
  controller waits at zero speed (a refusal from the stepper is waited out too);
- continuous rotation runs only while renewed (deadman);
- pulses are queued at most about two periods ahead, so if ticks stop the motor stops.
"""

from __future__ import annotations

import enum
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dome.core import motion
from dome.core.angles import check_azimuth, shortest_delta, wrap360
from dome.core.errors import FaultedError, InvalidStateError, InvalidValueError
from dome.core.guards import RunawayGuard, StallGuard
from dome.core.mechanics import Mechanics
from dome.core.ports import (
    DigitalInput,
    DirectionChangeError,
    Encoder,
    QueueFullError,
    Segment,
    Stepper,
)
from dome.core.position import PositionTracker
from dome.core.store import PositionStore

EventSink = Callable[[str, dict[str, Any]], None]
# A hook asked before any rotation starts (the shutter interlock): a reason to refuse, or
# None.
MotionGate = Callable[[], str | None]


class State(enum.Enum):
    IDLE = "idle"
    SLEWING = "slewing"
    TRACKING = "tracking"
    HOMING = "homing"
    PARKED = "parked"
    FAULT = "fault"


class _Mode(enum.Enum):
    NONE = "none"
    POSITION = "position"
    VELOCITY = "velocity"
    SETTLING = "settling"
    SEARCH = "search"  # turning towards the home switch


@dataclass(frozen=True)
class Status:
    state: State
    azimuth: float | None
    target: float | None
    moving: bool
    velocity_deg_s: float
    at_home: bool
    at_park: bool
    home_deg: float
    park_deg: float
    fault: str | None
    last_outcome: str | None
    encoder_counts: int | None
    frames_ok: int
    frame_errors: dict[str, int] = field(default_factory=dict)
    tracking_azimuth: float | None = None
    homing_required: str | None = None
    home_switch: bool | None = None
    deadman_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "azimuth": self.azimuth,
            "target": self.target,
            "moving": self.moving,
            "velocity_deg_s": self.velocity_deg_s,
            "at_home": self.at_home,
            "at_park": self.at_park,
            "home_deg": self.home_deg,
            "park_deg": self.park_deg,
            "fault": self.fault,
            "last_outcome": self.last_outcome,
            "encoder_counts": self.encoder_counts,
            "frames_ok": self.frames_ok,
            "frame_errors": dict(self.frame_errors),
            "tracking_azimuth": self.tracking_azimuth,
            "homing_required": self.homing_required,
            "home_switch": self.home_switch,
            "deadman_s": self.deadman_s,
        }


def _noop(kind: str, data: dict[str, Any]) -> None:
    pass


@dataclass(frozen=True)
class HomeSwitch:
    """A switch that is active at ``azimuth_deg`` when reached turning ``direction``."""

    input: DigitalInput
    azimuth_deg: float


class Controller:
    def __init__(
        self,
        mechanics: Mechanics,
        stepper: Stepper,
        encoder: Encoder,
        store: PositionStore,
        clock: Callable[[], float],
        on_event: EventSink = _noop,
        home_switch: HomeSwitch | None = None,
    ) -> None:
        self.m = mechanics
        self._stepper = stepper
        self._encoder = encoder
        self._store = store
        self._clock = clock
        self._emit_event = on_event
        self._home = home_switch
        self.motion_gate: MotionGate | None = None
        self._lock = threading.RLock()
        self._persisted = store.load()
        self.pos = PositionTracker(mechanics)
        self.pos.restore(self._persisted)
        self._stall = StallGuard(mechanics)
        self._runaway = RunawayGuard(mechanics)
        self._state = State.PARKED if self._persisted.parked else State.IDLE
        self._mode = _Mode.NONE
        self._intent = ""
        self._target: float | None = None  # machine degrees
        self._v = 0.0
        self._v_target = 0.0
        self._frac_steps = 0.0
        self._queued_dir = 0  # dome direction of the pulses last queued (+1, -1; 0 none)
        self._motor_deg = 0.0
        self._change_motor_deg = 0.0  # motor position when the encoder last changed
        self._last_unwrapped: int | None = None
        self._settle_until = 0.0
        self._settle_tries = 0
        self._deadman_until: float | None = None
        self._deadman_tripped = False
        self._search_from: float | None = None
        self._home_active: bool | None = None
        self._home_edge = False
        self._fault: str | None = None
        self._last_outcome: str | None = None
        self._last_tick: float | None = None
        self._track_az: float | None = None
        self._dead_band = 1.0

    # --- reading ----------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    def _az_of(self, machine: float) -> float:
        return wrap360(machine + self._persisted.sync_offset_deg)

    def azimuth(self) -> float | None:
        """The azimuth, or None while unknown (no frame yet, or homing needed)."""
        with self._lock:
            machine = self.pos.machine_deg
            if machine is None or not self.pos.referenced:
                return None
            return self._az_of(machine)

    def is_moving(self) -> bool:
        return self._mode is not _Mode.NONE

    def homing_required(self) -> str | None:
        if self.pos.referenced:
            return None
        return self.pos.trust_note or "the position is not known: find home first"

    def status(self) -> Status:
        with self._lock:
            az = self.azimuth()
            target = None
            if self._target is not None and self._mode in (_Mode.POSITION, _Mode.SETTLING):
                target = self._az_of(self._target)
            deadman = None
            if self._deadman_until is not None and self._mode is _Mode.VELOCITY:
                deadman = max(0.0, self._deadman_until - self._clock())
            return Status(
                state=self._state,
                azimuth=az,
                target=target,
                moving=self.is_moving(),
                velocity_deg_s=self._v,
                at_home=self._near(az, self._persisted.home_deg),
                at_park=self._state is State.PARKED,
                home_deg=self._persisted.home_deg,
                park_deg=self._persisted.park_deg,
                fault=self._fault,
                last_outcome=self._last_outcome,
                encoder_counts=self.pos.raw,
                frames_ok=self.pos.frames_ok,
                frame_errors=dict(self.pos.frame_errors),
                tracking_azimuth=self._track_az if self._state is State.TRACKING else None,
                homing_required=self.homing_required(),
                home_switch=self._home_active,
                deadman_s=deadman,
            )

    def _near(self, az: float | None, where: float) -> bool:
        return az is not None and abs(shortest_delta(az, where)) <= max(
            self.m.deg_per_count, self._settle_tol
        )

    @property
    def _stop_zone(self) -> float:
        return max(0.5 * self.m.deg_per_count, self.m.creep_speed_deg_s * self.m.period)

    @property
    def _settle_tol(self) -> float:
        return max(self.m.deg_per_count, 2 * self.m.creep_speed_deg_s * self.m.period)

    # --- the control period -----------------------------------------------------------
    def tick(self) -> None:
        with self._lock:
            now = self._clock()
            dt = self.m.period if self._last_tick is None else now - self._last_tick
            dt = min(max(dt, 0.0), 3 * self.m.period)
            self._last_tick = now
            good = self.pos.update(self._encoder.read())
            too_many = self.pos.bad_in_row >= self.m.bad_frames_to_fault
            if not good and too_many and self._state is not State.FAULT:
                self._to_fault(
                    f"encoder: {self.pos.bad_in_row} bad frames in a row"
                    f" (last: {self.pos.last_bad})"
                )
            if self._home is not None:
                self._read_home_switch()
            if self._state is State.FAULT or self.pos.unwrapped is None:
                return
            self._motor_deg = (
                self._stepper.emitted_steps() * self.m.motor_sign / self.m.steps_per_deg
            )
            if self.pos.unwrapped != self._last_unwrapped:
                self._last_unwrapped = self.pos.unwrapped
                self._change_motor_deg = self._motor_deg
            # only a good frame is evidence: a dropped one says nothing about motion, and a
            # run of them is the bad-frame limit's business
            if good and self._check_guards(now):
                return
            if self._mode is _Mode.SEARCH and self._home_edge:
                self._home_found()
            self._drive(now, dt)

    def _read_home_switch(self) -> None:
        assert self._home is not None
        try:
            active = self._home.input.active()
        except OSError as exc:
            self._home_edge = False
            if self._mode is _Mode.SEARCH:
                self._to_fault(f"home switch unreadable: {exc}")
            return
        self._home_edge = (
            active
            and self._home_active is False
            and self._queued_dir == self.m.home_search_direction
        )
        self._home_active = active

    def _check_guards(self, now: float) -> bool:
        pos = self.pos.machine_deg
        assert pos is not None
        if self._mode is _Mode.NONE and not self._stepper.busy():
            self._stall.reset()
            return False
        reason = self._stall.check(pos, self._motor_deg)
        if reason is None:
            error = None
            if self._mode is _Mode.POSITION and self._target is not None:
                error = self._target - pos
            reason = self._runaway.check(now, pos, self._motor_deg, error, self._v)
        if reason is not None:
            self._to_fault(reason)
            return True
        return False

    def _drive(self, now: float, dt: float) -> None:
        if self._mode is _Mode.NONE:
            if self._state is State.TRACKING and self._track_az is not None:
                az = self.azimuth()
                if az is not None and abs(shortest_delta(az, self._track_az)) > self._dead_band:
                    self._start_position(self._track_az, "track", now)
            if self._mode is _Mode.NONE:
                return
        if self._mode is _Mode.SETTLING:
            self._settle(now)
            return
        pos = self.pos.machine_deg
        assert pos is not None
        if self._mode is _Mode.POSITION:
            assert self._target is not None
            err = self._target - pos
            if abs(err) <= self._stop_zone:
                self._halt()
                self._mode = _Mode.SETTLING
                self._settle_until = now + self.m.settle_s
                return
            # between encoder counts, dead-reckon from the steps sent since the last change,
            # for braking only: the way to turn is the encoder's (backlash and slip make
            # the estimate run ahead of the dome, and turning on it would hunt)
            since = self._motor_deg - self._change_motor_deg
            dpc = self.m.deg_per_count
            err_est = err - min(max(since, -dpc), dpc)
            if err_est * err <= 0:
                err_est = math.copysign(1e-9, err)
            v_new = motion.position_velocity(self._v, err_est, dt, self.m.limits, dpc)
        else:
            if (
                self._mode is _Mode.VELOCITY
                and self._deadman_until is not None
                and now > self._deadman_until
                and self._v_target != 0.0
            ):
                self._v_target = 0.0
                self._deadman_tripped = True
                self._emit_event("deadman", {"azimuth": self.azimuth()})
            if self._mode is _Mode.SEARCH:
                turned = abs(self._motor_deg - (self._search_from or 0.0))
                if turned > 396.0:
                    self._to_fault(
                        f"home switch not found after turning {turned:.0f} deg: check"
                        " DOME_HOME_SWITCH_GPIO and DOME_HOME_SWITCH_EDGE"
                    )
                    return
            v_new = motion.ramp(self._v, self._v_target, dt, self.m.acceleration_deg_s2)
            if self._v_target == 0.0 and abs(v_new) < 1e-9:
                v_new = 0.0
        busy = self._stepper.busy()
        direction = (v_new > 0) - (v_new < 0)
        if direction and direction != self._queued_dir and busy:
            # DIR may only change once lgpio reports the queue drained: after a stop the
            # velocity is 0 while the last pulses still go out. Wait here at zero speed.
            v_new = 0.0
            direction = 0
        self._v = v_new
        if v_new == 0.0:
            self._frac_steps = 0.0
            if self._mode is _Mode.VELOCITY and self._v_target == 0.0 and not busy:
                self._finish("deadman" if self._deadman_tripped else "stopped")
            return
        rate = abs(v_new) * self.m.steps_per_deg
        want = rate * dt + self._frac_steps + (rate * self.m.period if not busy else 0.0)
        n = int(want)
        self._frac_steps = want - n
        if n <= 0:
            return
        # a slow ramp's few steps still go out within the period
        segment = Segment(direction * self.m.motor_sign, max(rate, n * self.m.tick_hz), n)
        try:
            self._stepper.queue(segment)
        except DirectionChangeError:
            self._v = 0.0  # the stepper still has pulses the other way: wait for them
            self._frac_steps = 0.0
            return
        except QueueFullError:
            self._frac_steps = 0.0
            return
        if direction != self._queued_dir:
            pos_now = self.pos.machine_deg
            assert pos_now is not None
            self._runaway.direction_changed(direction, pos_now, self._motor_deg)
            self._queued_dir = direction

    def _settle(self, now: float) -> None:
        if now < self._settle_until:
            return
        pos = self.pos.machine_deg
        assert pos is not None
        assert self._target is not None
        if abs(self._target - pos) <= self._settle_tol:
            self._finish("arrived")
            return
        self._settle_tries += 1
        if self._settle_tries > self.m.settle_retries:
            self._to_fault(
                f"could not settle within {self._settle_tol:.2f} deg after"
                f" {self._settle_tries} tries"
            )
            return
        self._mode = _Mode.POSITION

    def _halt(self) -> None:
        self._stepper.flush()
        self._v = 0.0
        self._v_target = 0.0
        self._frac_steps = 0.0

    def _save_position(self, clean: bool) -> None:
        p = self._persisted
        machine = self.pos.machine_deg
        if machine is None or not self.pos.referenced:
            return
        p.position_deg, p.encoder_raw, p.position_clean = machine, self.pos.raw, clean
        self._store.save_soon(p)

    def _finish(self, outcome: str) -> None:
        intent = self._intent
        self._halt()
        self._mode = _Mode.NONE
        self._runaway.end_slew()
        self._deadman_until = None
        self._deadman_tripped = False
        self._last_outcome = f"{intent}: {outcome}"
        if intent == "park" and outcome == "arrived":
            self._state = State.PARKED
            self._persisted.parked = True
        elif intent == "track" and self._state is State.TRACKING:
            pass
        elif self._state is not State.FAULT:
            self._state = State.IDLE
        self._save_position(clean=True)
        self._emit_event(
            "motion_ended", {"intent": intent, "outcome": outcome, "azimuth": self.azimuth()}
        )

    def _to_fault(self, reason: str) -> None:
        self._halt()
        intent = self._intent if self._mode is not _Mode.NONE else ""
        self._mode = _Mode.NONE
        self._runaway.end_slew()
        self._deadman_until = None
        self._state = State.FAULT
        self._fault = reason
        self._track_az = None
        self._last_outcome = f"{intent or 'idle'}: fault"
        self._emit_event("fault", {"reason": reason, "intent": intent, "azimuth": self.azimuth()})

    # --- commands ---------------------------------------------------------------------
    def _require_motion_allowed(self, *, needs_position: bool = True) -> None:
        """Refuse what may not move; a slew while parked unparks (ASCOM: AtPark is reset
        by any slew), once everything else allows it."""
        if self._state is State.FAULT:
            raise FaultedError(f"dome is in fault ({self._fault}); clear the fault first")
        if self.pos.unwrapped is None:
            raise InvalidStateError("no valid encoder reading yet")
        if needs_position and not self.pos.referenced:
            raise InvalidStateError(f"position unknown: {self.homing_required()}")
        if self.motion_gate is not None:
            reason = self.motion_gate()
            if reason is not None:
                raise InvalidStateError(reason)
        if self._state is State.PARKED:
            self._unpark_locked()

    def _supersede(self, intent: str) -> None:
        if self._mode is not _Mode.NONE and self._intent != intent:
            self._emit_event(
                "motion_ended",
                {"intent": self._intent, "outcome": "superseded", "azimuth": self.azimuth()},
            )

    def _start_position(self, azimuth: float | None, intent: str, now: float) -> None:
        """Head for ``azimuth`` (the shortest way from where the dome can stop) at once,
        even mid-slew: braking and turning round are the profile's business."""
        pos = self.pos.machine_deg
        assert pos is not None
        self._supersede(intent)
        stop = pos + motion.stopping_distance(self._v, self.m.acceleration_deg_s2)
        if azimuth is not None:
            target = stop + shortest_delta(self._az_of(stop), azimuth)
        else:
            assert self._target is not None
            target = self._target
        self._set_target(target, intent, now)

    def _set_target(self, target: float, intent: str, now: float) -> None:
        pos = self.pos.machine_deg
        assert pos is not None
        restarted = self._mode is _Mode.NONE or self._intent != intent
        self._target = target
        self._mode = _Mode.POSITION
        self._intent = intent
        self._settle_tries = 0
        self._deadman_until = None
        distance = abs(motion.stopping_distance(self._v, self.m.acceleration_deg_s2)) * 2 + abs(
            target - pos
        )
        self._runaway.start_slew(now, distance, motion.travel_time(distance, self.m.limits))
        if restarted:
            self._save_position(clean=False)
            self._emit_event(
                "motion_started",
                {"intent": intent, "azimuth": self.azimuth(), "delta_deg": target - pos},
            )

    def goto(self, azimuth: float) -> None:
        """Slew to ``azimuth`` by the shortest way; a new goto replaces the old at once."""
        az = self._checked_az(azimuth)
        with self._lock:
            self._require_motion_allowed()
            self._track_az = None
            self._start_position(az, "goto", self._clock())
            self._state = State.SLEWING

    def jog(self, delta_deg: float) -> None:
        """Turn by ``delta_deg`` (+ clockwise), the way the sign says even past 180."""
        if isinstance(delta_deg, bool) or not isinstance(delta_deg, int | float):
            raise InvalidValueError(
                f"jog must be a number of degrees, got {type(delta_deg).__name__}"
            )
        if not math.isfinite(delta_deg) or not 0 < abs(delta_deg) <= 360:
            raise InvalidValueError(
                f"jog must be a non-zero number of degrees up to 360, got {delta_deg}"
            )
        with self._lock:
            self._require_motion_allowed(needs_position=False)
            pos = self.pos.machine_deg
            assert pos is not None
            self._track_az = None
            self._supersede("jog")
            self._set_target(pos + float(delta_deg), "jog", self._clock())
            self._state = State.SLEWING

    def move_continuous(self, direction: int) -> float:
        """Turn at full speed for as long as this is called again within ``deadman_s``
        (the same direction renews; the other reverses). Returns the deadman time."""
        if direction not in (1, -1) or isinstance(direction, bool):
            raise InvalidValueError(f"direction must be +1 (clockwise) or -1, got {direction!r}")
        with self._lock:
            now = self._clock()
            renewing = (
                self._mode is _Mode.VELOCITY
                and self._intent == "continuous"
                and self._v_target == direction * self.m.max_speed_deg_s
            )
            if not renewing:
                self._require_motion_allowed(needs_position=False)
                self._track_az = None
                self._supersede("continuous")
                self._mode = _Mode.VELOCITY
                self._intent = "continuous"
                self._v_target = direction * self.m.max_speed_deg_s
                self._runaway.end_slew()
                self._state = State.SLEWING
                self._save_position(clean=False)
                self._emit_event(
                    "motion_started",
                    {"intent": "continuous", "azimuth": self.azimuth(), "direction": direction},
                )
            self._deadman_until = now + self.m.deadman_s
            self._deadman_tripped = False
            return self.m.deadman_s

    def stop(self) -> None:
        """Decelerate to a stop at the configured acceleration; ends tracking."""
        with self._lock:
            self._track_az = None
            if self._state is State.TRACKING and self._mode is _Mode.NONE:
                self._state = State.IDLE
                self._emit_event("tracking_stopped", {"azimuth": self.azimuth()})
            if self._mode in (_Mode.POSITION, _Mode.VELOCITY, _Mode.SEARCH):
                self._mode = _Mode.VELOCITY
                self._v_target = 0.0
                self._deadman_until = None
                self._runaway.end_slew()
                self._intent = self._intent or "stop"
                if self._state in (State.TRACKING, State.HOMING):
                    self._state = State.SLEWING
            elif self._mode is _Mode.SETTLING:
                self._finish("stopped")

    def abort(self) -> None:
        """Stop now: the queued pulses are dropped."""
        with self._lock:
            self._track_az = None
            if self._mode is not _Mode.NONE:
                self._finish("aborted")
            else:
                self._halt()
            if self._state in (State.TRACKING, State.SLEWING, State.HOMING):
                self._state = State.IDLE

    def sync(self, azimuth: float) -> None:
        """Declare that the dome points at ``azimuth`` now (this also makes a position
        that needed homing known again)."""
        az = self._checked_az(azimuth)
        with self._lock:
            if self._state is State.FAULT:
                raise FaultedError(f"dome is in fault ({self._fault}); clear the fault first")
            if self._mode is not _Mode.NONE or self._state is State.TRACKING:
                raise InvalidStateError("cannot sync while the dome moves or tracks")
            machine = self.pos.machine_deg
            if machine is None:
                raise InvalidStateError("no valid encoder reading yet")
            self._persisted.sync_offset_deg = wrap360(az - machine)
            self.pos.mark_referenced()
            self._save_position(clean=True)
            self._store.save(self._persisted)
            self._emit_event("sync", {"azimuth": az})

    def find_home(self) -> None:
        """With a home switch: turn towards it, re-reference the azimuth at its edge,
        then go to the home azimuth. Without one: go to the home azimuth."""
        with self._lock:
            if self._state is State.PARKED:
                self._unpark_locked()
            if self._home is None:
                self._require_motion_allowed()
                self._track_az = None
                self._start_position(self._persisted.home_deg, "home", self._clock())
                self._state = State.HOMING
                return
            self._require_motion_allowed(needs_position=False)
            self._track_az = None
            self._supersede("home")
            self._mode = _Mode.SEARCH
            self._intent = "home"
            self._v_target = self.m.home_search_direction * self.m.home_search_speed_deg_s
            self._search_from = self._motor_deg
            self._deadman_until = None
            self._runaway.start_slew(self._clock(), 360.0, 396.0 / self.m.home_search_speed_deg_s)
            self._state = State.HOMING
            self._save_position(clean=False)
            self._emit_event("motion_started", {"intent": "home", "azimuth": self.azimuth()})

    def _home_found(self) -> None:
        assert self._home is not None
        machine = self.pos.machine_deg
        assert machine is not None
        self._persisted.sync_offset_deg = wrap360(self._home.azimuth_deg - machine)
        self.pos.mark_referenced()
        self._store.save_soon(self._persisted)
        self._emit_event("home_switch", {"azimuth": self._home.azimuth_deg})
        self._start_position(self._persisted.home_deg, "home", self._clock())

    def park(self) -> None:
        with self._lock:
            if self._state is State.PARKED:
                return
            self._require_motion_allowed()
            self._track_az = None
            self._start_position(self._persisted.park_deg, "park", self._clock())
            self._state = State.SLEWING

    def unpark(self) -> None:
        with self._lock:
            self._unpark_locked()

    def _unpark_locked(self) -> None:
        if self._state is State.PARKED:
            self._state = State.IDLE
            self._persisted.parked = False
            self._store.save(self._persisted)
            self._emit_event("unparked", {"azimuth": self.azimuth()})

    def set_park(self, azimuth: float | None = None) -> None:
        with self._lock:
            self._persisted.park_deg = self._here_or(azimuth, "park azimuth")
            self._store.save(self._persisted)

    def set_home(self, azimuth: float | None = None) -> None:
        with self._lock:
            self._persisted.home_deg = self._here_or(azimuth, "home azimuth")
            self._store.save(self._persisted)

    def _here_or(self, azimuth: float | None, what: str) -> float:
        if azimuth is not None:
            return self._checked_az(azimuth, what)
        here = self.azimuth()
        if here is None:
            raise InvalidStateError(f"position unknown: {self.homing_required()}")
        return here

    def clear_fault(self) -> None:
        with self._lock:
            if self._state is not State.FAULT:
                return
            if self.pos.bad_in_row > 0:
                raise InvalidStateError("the encoder still sends bad frames; fix it first")
            self._state = State.PARKED if self._persisted.parked else State.IDLE
            self._fault = None
            self._stall.reset()
            self._emit_event("fault_cleared", {"azimuth": self.azimuth()})

    def start_tracking(self, azimuth: float, dead_band_deg: float) -> None:
        """Keep the slit on ``azimuth`` (updated by :meth:`update_tracking`)."""
        az = self._checked_az(azimuth)
        if not math.isfinite(dead_band_deg) or not 0 <= dead_band_deg <= 30:
            raise InvalidValueError(f"dead band must be 0..30 degrees, got {dead_band_deg}")
        with self._lock:
            self._require_motion_allowed()
            self._dead_band = max(dead_band_deg, self._settle_tol)
            self._track_az = az
            if self._mode is not _Mode.NONE and self._intent != "track":
                # the old slew is replaced now: the first tracking move starts from here
                self._start_position(az, "track", self._clock())
            self._state = State.TRACKING
            self._emit_event("tracking_started", {"azimuth": self.azimuth(), "target": az})

    def update_tracking(self, azimuth: float) -> None:
        az = self._checked_az(azimuth)
        with self._lock:
            if self._state is not State.TRACKING:
                raise InvalidStateError("not tracking")
            self._track_az = az
            if self._mode in (_Mode.POSITION, _Mode.SETTLING) and self._intent == "track":
                self._start_position(az, "track", self._clock())  # a new target: at once

    def tracking_error(self) -> float | None:
        with self._lock:
            az = self.azimuth()
            if self._state is not State.TRACKING or az is None or self._track_az is None:
                return None
            return shortest_delta(az, self._track_az)

    def _checked_az(self, value: Any, what: str = "azimuth") -> float:
        try:
            return check_azimuth(value, what)
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(str(exc)) from None

    def shutdown(self) -> None:
        """Drop all queued pulses and save where the dome is; the last thing before the
        hardware is closed."""
        with self._lock:
            self._halt()
            if self._mode is _Mode.NONE:
                self._save_position(clean=True)
            self._store.flush()
