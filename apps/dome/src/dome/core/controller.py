"""The dome's state machine: it alone owns the motor.

``tick()`` runs once per control period (50 Hz): it reads one encoder frame, checks for a
stall, and queues the next period's step pulses. Commands (from the IPC server's threads)
only change the plan under the same lock; nothing moves except from ``tick()``.

Safety rules, all enforced here, independent of any API:
- steps sent while the encoder does not move is a stall: flush the queue now, FAULT;
- a run of bad encoder frames stops motion the same way;
- speed and acceleration never exceed the configured limits;
- pulses are queued at most about two periods ahead, so if ticks stop the motor stops.
"""

from __future__ import annotations

import enum
import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dome.core.angles import check_azimuth, shortest_delta, wrap360
from dome.core.errors import FaultedError, InvalidStateError, InvalidValueError, ParkedError
from dome.core.mechanics import Mechanics
from dome.core.store import PositionStore
from dome.hardware.encoder import COUNTS_PER_TURN, Encoder, FrameError, parse_frame
from dome.hardware.stepper import Segment, Stepper

EventSink = Callable[[str, dict[str, Any]], None]

# How far ahead the decelerating profile looks to cover the queue, the encoder's
# quantisation and the dome's inertia; found with the simulator, generous for real domes.
_LOOKAHEAD_S = 0.12


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
        }


def _noop(kind: str, data: dict[str, Any]) -> None:
    pass


class Controller:
    def __init__(
        self,
        mechanics: Mechanics,
        stepper: Stepper,
        encoder: Encoder,
        store: PositionStore,
        clock: Callable[[], float],
        on_event: EventSink = _noop,
    ) -> None:
        self.m = mechanics
        self._stepper = stepper
        self._encoder = encoder
        self._store = store
        self._clock = clock
        self._emit_event = on_event
        self._lock = threading.RLock()
        self._persisted = store.load()
        self._state = State.PARKED if self._persisted.parked else State.IDLE
        self._raw: int | None = None
        self._unwrapped: int | None = None
        self._mode = _Mode.NONE
        self._intent = ""
        self._target_unwrapped: float | None = None
        self._v = 0.0
        self._v_target = 0.0
        self._frac_steps = 0.0
        self._queued_direction = 0  # of the pulses last queued (+1, -1; 0 before any)
        self._settle_until = 0.0
        self._settle_tries = 0
        self._bad_in_row = 0
        self._last_bad = ""
        self._frames_ok = 0
        self._frame_errors: Counter[str] = Counter({kind.value: 0 for kind in FrameError})
        self._stall_ref_emitted = 0
        self._stall_ref_unwrapped: int | None = None
        self._fault: str | None = None
        self._last_outcome: str | None = None
        self._last_tick: float | None = None
        self._track_az: float | None = None
        self._dead_band = 1.0

    # --- reading ----------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    def azimuth(self) -> float | None:
        with self._lock:
            if self._unwrapped is None:
                return None
            return wrap360(self._unwrapped * self.m.deg_per_count + self._persisted.sync_offset_deg)

    def is_moving(self) -> bool:
        return self._mode is not _Mode.NONE

    def status(self) -> Status:
        with self._lock:
            az = self.azimuth()
            target = None
            if self._target_unwrapped is not None and self._mode is not _Mode.NONE:
                target = wrap360(
                    self._target_unwrapped * self.m.deg_per_count + self._persisted.sync_offset_deg
                )
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
                encoder_counts=self._raw,
                frames_ok=self._frames_ok,
                frame_errors=dict(self._frame_errors),
                tracking_azimuth=self._track_az if self._state is State.TRACKING else None,
            )

    def _near(self, az: float | None, where: float) -> bool:
        return az is not None and abs(shortest_delta(az, where)) <= self.m.deg_per_count

    # --- the control period -----------------------------------------------------------
    def tick(self) -> None:
        with self._lock:
            now = self._clock()
            dt = self.m.period if self._last_tick is None else now - self._last_tick
            dt = min(max(dt, 0.0), 3 * self.m.period)
            self._last_tick = now
            self._read_encoder()
            if self._state is State.FAULT or self._unwrapped is None:
                return
            # only a good frame is evidence: a dropped one says nothing about motion, and a
            # run of them is the bad-frame limit's business
            if self._bad_in_row == 0 and self._check_stall():
                return
            self._drive(now, dt)

    def _read_encoder(self) -> None:
        try:
            frame = parse_frame(self._encoder.read_word())
        except OSError:
            self._bad_frame(FrameError.TRANSPORT)
            return
        if frame.error is not None:
            self._bad_frame(frame.error)
            return
        self._bad_in_row = 0
        self._frames_ok += 1
        if self._raw is None or self._unwrapped is None:
            self._unwrapped = frame.position
        else:
            step = frame.position - self._raw
            # one period moves the dome far less than half a turn: a bigger jump is a wrap
            if step > COUNTS_PER_TURN // 2:
                step -= COUNTS_PER_TURN
            elif step < -COUNTS_PER_TURN // 2:
                step += COUNTS_PER_TURN
            self._unwrapped += step
        self._raw = frame.position

    def _bad_frame(self, kind: FrameError) -> None:
        self._frame_errors[kind.value] += 1
        self._bad_in_row += 1
        self._last_bad = kind.value
        if self._bad_in_row >= self.m.bad_frames_to_fault and self._state is not State.FAULT:
            self._to_fault(f"encoder: {self._bad_in_row} bad frames in a row (last: {kind.value})")

    def _check_stall(self) -> bool:
        emitted = self._stepper.emitted_steps()
        if self._unwrapped != self._stall_ref_unwrapped:
            self._stall_ref_unwrapped = self._unwrapped
            self._stall_ref_emitted = emitted
            return False
        moved_deg = abs(emitted - self._stall_ref_emitted) / self.m.steps_per_deg
        if moved_deg > self.m.stall_counts * self.m.deg_per_count:
            self._to_fault(
                f"stall: motor turned the dome {moved_deg:.2f} deg but the encoder did not move"
            )
            return True
        return False

    def _drive(self, now: float, dt: float) -> None:
        if self._mode is _Mode.NONE:
            if self._state is State.TRACKING and self._track_az is not None:
                az = self.azimuth()
                assert az is not None
                delta = shortest_delta(az, self._track_az)
                if abs(delta) > self._dead_band:
                    self._start_position(delta, "track")
            if self._mode is _Mode.NONE:
                return
        if self._mode is _Mode.SETTLING:
            self._settle(now)
            return
        assert self._unwrapped is not None
        if self._mode is _Mode.POSITION:
            assert self._target_unwrapped is not None
            err_counts = self._target_unwrapped - self._unwrapped
            # between encoder counts, dead-reckon from the steps sent since the last change
            since = (self._stepper.emitted_steps() - self._stall_ref_emitted) / (
                self.m.steps_per_deg * self.m.deg_per_count
            )
            err_est = err_counts - min(max(since, -1.0), 1.0)
            if abs(err_counts) <= 0.5:
                self._halt()
                self._mode = _Mode.SETTLING
                self._settle_until = now + self.m.settle_s
                return
            # aim to reach creep speed a count and a half out: the last counts are
            # crept, and creep is within the motor's start-stop rate, so the stop at
            # the target count needs no ramp
            dist = max(abs(err_est) - 1.0, 0.0) * self.m.deg_per_count
            dist = max(dist - abs(self._v) * _LOOKAHEAD_S, 0.0)
            # braking planned at 80% of the limit, so the ramp can always follow the plan
            brake = 0.8 * self.m.acceleration_deg_s2
            speed = min(self.m.max_speed_deg_s, math.sqrt(2 * brake * dist))
            self._v_target = math.copysign(max(speed, self.m.creep_speed_deg_s), err_counts)
        step = self.m.acceleration_deg_s2 * dt
        v_new = self._v + min(max(self._v_target - self._v, -step), step)
        if self._mode is _Mode.VELOCITY and self._v_target == 0.0 and abs(v_new) < 1e-9:
            v_new = 0.0
        pending = self._stepper.pending_steps()
        direction = (v_new > 0) - (v_new < 0)
        if direction and pending > 0 and direction != self._queued_direction:
            # DIR may only change once the queue has drained. Compare with the pulses
            # still queued, not with the last velocity: after a stop the velocity is
            # already 0 while the last pulses are still going out.
            v_new = 0.0
        self._v = v_new
        if v_new == 0.0:
            self._frac_steps = 0.0
            if self._mode is _Mode.VELOCITY and self._v_target == 0.0 and pending == 0:
                self._finish("stopped")
            return
        rate = abs(v_new) * self.m.steps_per_deg
        want = rate * dt + self._frac_steps + (rate * self.m.period if pending == 0 else 0.0)
        n = int(want)
        self._frac_steps = want - n
        if n > 0:
            self._stepper.queue(Segment(direction, rate, n))
            self._queued_direction = direction

    def _settle(self, now: float) -> None:
        if now < self._settle_until:
            return
        assert self._unwrapped is not None
        assert self._target_unwrapped is not None
        if abs(self._target_unwrapped - self._unwrapped) <= 1.0:
            self._finish("arrived")
            return
        self._settle_tries += 1
        if self._settle_tries > self.m.settle_retries:
            self._to_fault(
                f"could not settle within one encoder count after {self._settle_tries} tries"
            )
            return
        self._mode = _Mode.POSITION

    def _halt(self) -> None:
        self._stepper.flush()
        self._v = 0.0
        self._v_target = 0.0
        self._frac_steps = 0.0

    def _finish(self, outcome: str) -> None:
        intent = self._intent
        self._halt()
        self._mode = _Mode.NONE
        self._last_outcome = f"{intent}: {outcome}"
        if intent == "park" and outcome == "arrived":
            self._state = State.PARKED
            self._persisted.parked = True
            self._store.save(self._persisted)
        elif intent == "track" and self._state is State.TRACKING:
            pass
        elif self._state is not State.FAULT:
            self._state = State.IDLE
        self._emit_event(
            "motion_ended", {"intent": intent, "outcome": outcome, "azimuth": self.azimuth()}
        )

    def _to_fault(self, reason: str) -> None:
        self._halt()
        intent = self._intent if self._mode is not _Mode.NONE else ""
        self._mode = _Mode.NONE
        self._state = State.FAULT
        self._fault = reason
        self._track_az = None
        self._last_outcome = f"{intent or 'idle'}: fault"
        self._emit_event("fault", {"reason": reason, "intent": intent, "azimuth": self.azimuth()})

    # --- commands ---------------------------------------------------------------------
    def _require_motion_allowed(self) -> None:
        if self._state is State.FAULT:
            raise FaultedError(f"dome is in fault ({self._fault}); clear the fault first")
        if self._state is State.PARKED:
            raise ParkedError("dome is parked; unpark or find home first")
        if self._unwrapped is None:
            raise InvalidStateError("no valid encoder reading yet")

    def _start_position(self, delta_deg: float, intent: str) -> None:
        assert self._unwrapped is not None
        if self._mode is not _Mode.NONE and self._intent != intent:
            self._emit_event(
                "motion_ended",
                {"intent": self._intent, "outcome": "superseded", "azimuth": self.azimuth()},
            )
        self._target_unwrapped = self._unwrapped + delta_deg / self.m.deg_per_count
        self._mode = _Mode.POSITION
        self._intent = intent
        self._settle_tries = 0
        self._emit_event(
            "motion_started",
            {"intent": intent, "azimuth": self.azimuth(), "delta_deg": delta_deg},
        )

    def goto(self, azimuth: float) -> None:
        """Slew to ``azimuth`` by the shortest way."""
        az = self._checked_az(azimuth)
        with self._lock:
            self._require_motion_allowed()
            current = self.azimuth()
            assert current is not None
            self._start_position(shortest_delta(current, self._to_raw_az(az)), "goto")
            self._state = State.SLEWING

    def _to_raw_az(self, az: float) -> float:
        # goto targets are in synced azimuth; so is azimuth(): the offset cancels out
        return az

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
            self._require_motion_allowed()
            self._start_position(float(delta_deg), "jog")
            self._state = State.SLEWING

    def move_continuous(self, direction: int) -> None:
        if direction not in (1, -1) or isinstance(direction, bool):
            raise InvalidValueError(f"direction must be +1 (clockwise) or -1, got {direction!r}")
        with self._lock:
            self._require_motion_allowed()
            if self._mode is not _Mode.NONE:
                self._emit_event(
                    "motion_ended",
                    {"intent": self._intent, "outcome": "superseded", "azimuth": self.azimuth()},
                )
            self._mode = _Mode.VELOCITY
            self._intent = "continuous"
            self._v_target = direction * self.m.max_speed_deg_s
            self._state = State.SLEWING
            self._emit_event(
                "motion_started",
                {"intent": "continuous", "azimuth": self.azimuth(), "direction": direction},
            )

    def stop(self) -> None:
        """Decelerate to a stop at the configured acceleration; ends tracking."""
        with self._lock:
            self._track_az = None
            if self._state is State.TRACKING and self._mode is _Mode.NONE:
                self._state = State.IDLE
                self._emit_event("tracking_stopped", {"azimuth": self.azimuth()})
            if self._mode in (_Mode.POSITION, _Mode.VELOCITY):
                self._mode = _Mode.VELOCITY
                self._v_target = 0.0
                self._intent = self._intent or "stop"
                if self._state is State.TRACKING:
                    self._state = State.SLEWING
            elif self._mode is _Mode.SETTLING:
                self._finish("stopped")

    def abort(self) -> None:
        """Stop now: the queued pulses are dropped."""
        with self._lock:
            self._track_az = None
            moving = self._mode is not _Mode.NONE
            if moving:
                self._finish("aborted")
            else:
                self._halt()
            if self._state in (State.TRACKING, State.SLEWING, State.HOMING):
                self._state = State.IDLE

    def sync(self, azimuth: float) -> None:
        """Declare that the dome points at ``azimuth`` now."""
        az = self._checked_az(azimuth)
        with self._lock:
            if self._state is State.FAULT:
                raise FaultedError(f"dome is in fault ({self._fault}); clear the fault first")
            if self._mode is not _Mode.NONE or self._state is State.TRACKING:
                raise InvalidStateError("cannot sync while the dome moves or tracks")
            if self._unwrapped is None:
                raise InvalidStateError("no valid encoder reading yet")
            raw = self._unwrapped * self.m.deg_per_count
            self._persisted.sync_offset_deg = wrap360(az - raw)
            self._store.save(self._persisted)
            self._emit_event("sync", {"azimuth": az})

    def find_home(self) -> None:
        with self._lock:
            if self._state is State.PARKED:
                self._unpark_locked()
            self._require_motion_allowed()
            current = self.azimuth()
            assert current is not None
            self._start_position(shortest_delta(current, self._persisted.home_deg), "home")
            self._state = State.HOMING

    def park(self) -> None:
        with self._lock:
            if self._state is State.PARKED:
                return
            self._require_motion_allowed()
            current = self.azimuth()
            assert current is not None
            self._track_az = None
            self._start_position(shortest_delta(current, self._persisted.park_deg), "park")
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
            raise InvalidStateError("no valid encoder reading yet")
        return here

    def clear_fault(self) -> None:
        with self._lock:
            if self._state is not State.FAULT:
                return
            if self._bad_in_row > 0:
                raise InvalidStateError("the encoder still sends bad frames; fix it first")
            self._state = State.PARKED if self._persisted.parked else State.IDLE
            self._fault = None
            self._stall_ref_unwrapped = None
            self._emit_event("fault_cleared", {"azimuth": self.azimuth()})

    def start_tracking(self, azimuth: float, dead_band_deg: float) -> None:
        """Keep the slit on ``azimuth`` (updated by :meth:`update_tracking`)."""
        az = self._checked_az(azimuth)
        if not math.isfinite(dead_band_deg) or not 0 <= dead_band_deg <= 30:
            raise InvalidValueError(f"dead band must be 0..30 degrees, got {dead_band_deg}")
        with self._lock:
            self._require_motion_allowed()
            self._dead_band = max(dead_band_deg, self.m.deg_per_count)
            self._track_az = az
            if self._mode is not _Mode.NONE and self._intent != "track":
                self._emit_event(
                    "motion_ended",
                    {"intent": self._intent, "outcome": "superseded", "azimuth": self.azimuth()},
                )
                self._mode = _Mode.NONE
            self._state = State.TRACKING
            self._emit_event("tracking_started", {"azimuth": self.azimuth(), "target": az})

    def update_tracking(self, azimuth: float) -> None:
        az = self._checked_az(azimuth)
        with self._lock:
            if self._state is not State.TRACKING:
                raise InvalidStateError("not tracking")
            self._track_az = az

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
        """Drop all queued pulses; the last thing before the hardware is closed."""
        with self._lock:
            self._halt()
