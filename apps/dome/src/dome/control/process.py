"""The control process: owns the motor, the encoder, the state machine and the tracker.

It runs without the API process: the API only talks to it over the IPC socket, so a crash
or hang of the web layer leaves the loop, its stall detection and its watchdog as they are.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dome.config import DomeSettings
from dome.control.ipc import Handler, IpcServer
from dome.control.loop import ControlLoop
from dome.core.controller import Controller, HomeSwitch, State
from dome.core.corrections import CorrectionTable
from dome.core.errors import (
    DomeError,
    InvalidStateError,
    InvalidValueError,
    NotImplementedByDomeError,
)
from dome.core.ports import Encoder, SafetySource
from dome.core.safety import SafetyMonitor
from dome.core.sessions import SessionRecorder
from dome.core.shutter import Shutter
from dome.core.store import PositionStore
from dome.core.tracking import TrackingService, build_tracking
from dome.hardware.encoder import SpiEncoder, open_spidev
from dome.hardware.gpio import GpioInput, GpioOutput
from dome.hardware.mount import AlpacaMount
from dome.hardware.safety import AlpacaSafetyMonitor, RainSensor
from dome.hardware.shutter import GpioShutter, LimitPair, ShellyInput, ShellyRpc, ShellyShutter
from dome.hardware.stepper import LgpioStepper, open_lgpio
from dome.sim.dome import SimDome, SimMechanics, SimSpiDev
from dome.sim.lgpio import SimLgpio
from dome.sim.shutter import SimShutterMechanism, attach_to_gpio
from labkit.logs import get_logger
from labkit.systemd import Notifier

log = get_logger(__name__)


def _sim_state_file(settings: DomeSettings) -> Path:
    return settings.state_dir / "sim-dome.json"


class ControlService:
    def __init__(
        self, settings: DomeSettings, *, sim: bool, notifier: Notifier | None = None
    ) -> None:
        self.settings = settings
        self.sim: SimDome | None = None
        self.sim_lg: SimLgpio | None = None
        self.mechanics = settings.mechanics()
        s = settings
        encoder: Encoder
        lg: Any
        if sim:
            start = 0.0
            state_file = _sim_state_file(settings)
            if state_file.exists():
                start = float(json.loads(state_file.read_text()).get("dome_deg", 0.0))
            lg = self.sim_lg = SimLgpio(time.monotonic)
            self.sim = SimDome(
                SimMechanics(
                    steps_per_dome_turn=self.mechanics.steps_per_dome_turn,
                    encoder_turns_per_dome_turn=self.mechanics.encoder_turns_per_dome_turn,
                    motor_reversed=s.motor_reversed,
                    encoder_reversed=s.encoder_reversed,
                    home_deg=s.home_switch_azimuth_deg if s.home_switch_gpio is not None else None,
                ),
                clock=time.monotonic,
                lg=lg,
                dir_gpio=s.dir_gpio,
                step_gpio=s.step_gpio,
                home_gpio=s.home_switch_gpio,
                dome_deg=start,
            )
            handle = lg.gpiochip_open(s.gpio_chip)
            encoder = SpiEncoder(SimSpiDev(self.sim, s.spi_mode), s.spi_mode)
        else:
            encoder = SpiEncoder(
                open_spidev(s.spi_bus, s.spi_device, s.spi_speed_hz, s.spi_mode), s.spi_mode
            )
            lg, handle = open_lgpio(s.gpio_chip)
        self.lg, self.handle = lg, handle
        stepper = LgpioStepper(lg, handle, s.dir_gpio, s.step_gpio)
        home = None
        if s.home_switch_gpio is not None:
            falling = s.home_switch_edge == "falling"
            switch = GpioInput(lg, handle, s.home_switch_gpio, active_low=falling)
            home = HomeSwitch(switch, s.home_switch_azimuth_deg)
        self.stepper, self.encoder = stepper, encoder
        self.recorder = SessionRecorder(settings.sessions_db, settings.session_retention_days)
        self.controller = Controller(
            self.mechanics,
            stepper,
            encoder,
            PositionStore(settings.positions_file),
            time.monotonic,
            on_event=self.recorder.record,
            home_switch=home,
        )
        mount = AlpacaMount(s.mount_address, s.mount_device) if s.mount_address else None
        self.tracking: TrackingService = build_tracking(
            settings, self.controller, self.recorder.record, mount
        )
        self.sim_shutter: SimShutterMechanism | None = None
        self.sim_rain = False
        self.shutter = self._build_shutter(lg, handle, sim) if s.shutter != "none" else None
        self.safety = SafetyMonitor(
            self._build_safety(lg, handle, sim),
            clear_s=s.safety_clear_s,
            clock=time.monotonic,
            on_unsafe=self._on_unsafe,
            on_event=self.recorder.record,
        )
        self._interlock()
        self._stop_threads = threading.Event()
        self._threads = [
            threading.Thread(target=self._shutter_loop, name="shutter", daemon=True),
            threading.Thread(target=self._safety_loop, name="safety", daemon=True),
        ]
        self.notifier = notifier or Notifier()
        self.loop = ControlLoop(
            self.controller,
            self.mechanics.period,
            notifier=self.notifier,
            rt_priority=settings.control_rt_priority,
        )
        self.ipc = IpcServer(settings.socket_path, self.handlers())

    # --- shutter, safety, interlocks -----------------------------------------------------
    def _build_shutter(self, lg: Any, handle: int, sim: bool) -> Shutter:
        s = self.settings
        rpc = ShellyRpc(s.shutter_shelly_url) if s.shutter_shelly_url else None
        limits: Any
        if s.shutter_limits == "shelly":
            assert rpc is not None
            limits = LimitPair(
                ShellyInput(rpc, s.shutter_shelly_open_input),
                ShellyInput(rpc, s.shutter_shelly_closed_input),
            )
        else:
            low = s.shutter_limit_active_low
            limits = LimitPair(
                GpioInput(lg, handle, s.shutter_open_limit_gpio, active_low=low),
                GpioInput(lg, handle, s.shutter_closed_limit_gpio, active_low=low),
            )
        drive: Any
        if s.shutter == "shelly":
            assert rpc is not None
            drive = ShellyShutter(
                rpc,
                s.shutter_shelly_open_switch,
                s.shutter_shelly_close_switch,
                limits,
                safety_off_s=s.shutter_travel_timeout_s + 5,
            )
        else:
            if sim:
                # the Pi's own pins are simulated; a Shelly is a real client (of whatever
                # answers at its URL)
                assert isinstance(lg, SimLgpio)
                self.sim_shutter = SimShutterMechanism(time.monotonic, travel_s=8.0)
                if s.shutter_limits == "gpio":
                    attach_to_gpio(
                        self.sim_shutter,
                        lg,
                        open_out=s.shutter_open_gpio,
                        close_out=s.shutter_close_gpio,
                        open_limit=s.shutter_open_limit_gpio,
                        closed_limit=s.shutter_closed_limit_gpio,
                        relay_active_low=s.shutter_relay_active_low,
                        limit_active_low=s.shutter_limit_active_low,
                    )
            low = s.shutter_relay_active_low
            drive = GpioShutter(
                GpioOutput(lg, handle, s.shutter_open_gpio, active_low=low),
                GpioOutput(lg, handle, s.shutter_close_gpio, active_low=low),
                limits,
            )
        shutter = Shutter(drive, s.shutter_travel_timeout_s, time.monotonic, self.recorder.record)
        self.shutter_drive = drive
        return shutter

    def _build_safety(self, lg: Any, handle: int, sim: bool) -> SafetySource | None:
        s = self.settings
        if s.safety_source == "alpaca":
            assert s.safety_monitor_address is not None
            return AlpacaSafetyMonitor(s.safety_monitor_address, s.safety_monitor_device)
        if s.safety_source == "rain_gpio":
            if sim:
                assert isinstance(lg, SimLgpio)
                wet = 0 if s.rain_active_low else 1
                lg.attach_input(s.rain_gpio, lambda: wet if self.sim_rain else 1 - wet)
            return RainSensor(GpioInput(lg, handle, s.rain_gpio, active_low=s.rain_active_low))
        return None

    def _interlock(self) -> None:
        shutter = self.shutter
        if shutter is None:
            return
        shutter.open_gate = self.safety.open_refusal
        if self.settings.shutter_rotation_interlock:
            c = self.controller
            c.motion_gate = lambda: "the shutter is moving" if shutter.moving else None
            shutter.motion_gate = lambda: "the dome is rotating" if c.is_moving() else None

    def _on_unsafe(self, reason: str) -> None:
        """Close the shutter and park; in order when the hardware needs the interlock."""
        log.warning("unsafe: closing the shutter and parking", reason=reason)
        threading.Thread(target=self._make_safe, args=(reason,), name="make-safe").start()

    def _make_safe(self, reason: str) -> None:
        c, shutter, s = self.controller, self.shutter, self.settings
        try:
            if shutter is not None:
                if s.shutter_rotation_interlock and c.is_moving():
                    self.tracking.abort()
                shutter.close()
                if s.shutter_rotation_interlock:
                    deadline = time.monotonic() + s.shutter_travel_timeout_s + 5
                    while shutter.moving and time.monotonic() < deadline:
                        time.sleep(0.1)
            if s.safety_park and c.state is not State.PARKED:
                self.tracking.park()
        except DomeError as exc:
            log.error("could not make the dome safe", reason=reason, error=str(exc))

    def _shutter_loop(self) -> None:
        while not self._stop_threads.wait(0.1):
            if self.shutter is not None:
                try:
                    self.shutter.tick()
                except Exception as exc:  # a driver bug must not end the shutter checks
                    log.error("shutter check failed", error=repr(exc))

    def _safety_loop(self) -> None:
        while True:
            try:
                self.safety.poll()
            except Exception as exc:
                log.error("safety check failed", error=repr(exc))
            if self._stop_threads.wait(self.settings.safety_poll_s):
                return

    def _shutter(self) -> Shutter:
        if self.shutter is None:
            raise NotImplementedByDomeError("this dome has no shutter (DOME_SHUTTER=none)")
        return self.shutter

    def handlers(self) -> dict[str, Handler]:
        c = self.controller

        def status(_: dict[str, Any]) -> dict[str, Any]:
            out = c.status().as_dict()
            out["tracking"] = self.tracking.describe()
            out["tracking_reason"] = self.tracking.last_reason
            out["slaved"] = self.tracking.slaved
            out["can_slave"] = self.tracking.mount is not None
            out["tracking_error_deg"] = c.tracking_error()
            out["tracking_dead_band_deg"] = self.tracking.dead_band_deg
            out["loop_healthy"] = self.loop.healthy()
            out["simulated"] = self.sim is not None
            out["shutter"] = self.shutter.status() if self.shutter else None
            out["safety"] = self.safety.status()
            return out

        def sim_faults(args: dict[str, Any]) -> dict[str, Any]:
            assert self.sim is not None
            args = dict(args)
            if "rain" in args:
                rain = args.pop("rain")
                if not isinstance(rain, bool):
                    raise InvalidValueError(f"rain must be true or false, got {rain!r}")
                self.sim_rain = rain
            shutter_faults = {k: args.pop(k) for k in list(args) if k.startswith("shutter_")}
            if shutter_faults:
                if self.sim_shutter is None:
                    raise InvalidStateError("no simulated shutter")
                self.sim_shutter.faults.update(
                    **{k.removeprefix("shutter_"): v for k, v in shutter_faults.items()}
                )
            self.sim.faults.update(**args)
            snap = self.sim.snapshot()
            snap["rain"] = self.sim_rain
            if self.sim_shutter is not None:
                snap["shutter"] = self.sim_shutter.snapshot()
            return snap

        h: dict[str, Handler] = {
            "status": status,
            "loop_stats": lambda a: self.loop.stats(),
            "loop_periods": lambda a: list(self.loop.recent_periods),
            "goto": lambda a: c.goto(_arg(a, "azimuth")),
            "jog": lambda a: c.jog(_arg(a, "degrees")),
            "continuous": lambda a: {"deadman_s": c.move_continuous(_arg(a, "direction"))},
            "stop": lambda a: self.tracking.stop(),
            "abort": lambda a: self.tracking.abort(),
            "sync": lambda a: c.sync(_arg(a, "azimuth")),
            "find_home": lambda a: c.find_home(),
            "park": lambda a: self.tracking.park(),
            "unpark": lambda a: c.unpark(),
            "set_home": lambda a: c.set_home(a.get("azimuth")),
            "set_park": lambda a: c.set_park(a.get("azimuth")),
            "clear_fault": lambda a: c.clear_fault(),
            "track": lambda a: self.tracking.start(a),
            "track_stop": lambda a: self.tracking.stop(),
            "reload_corrections": lambda a: self.reload_corrections(),
            "shutter_open": lambda a: self._shutter().open(),
            "shutter_close": lambda a: self._shutter().close(),
            "shutter_stop": lambda a: self._shutter().stop(),
            "slave": lambda a: self.tracking.slave(),
            "unslave": lambda a: self.tracking.stop() if self.tracking.slaved else None,
        }
        if self.sim is not None:
            h["sim_faults"] = sim_faults
            h["sim_state"] = lambda a: sim_faults({})
        return h

    def reload_corrections(self) -> dict[str, Any]:
        table = CorrectionTable.load(self.settings.corrections_file)
        self.tracking.calculator.corrections = table
        log.info("correction table loaded", points=table.points if table else 0)
        return {"points": table.points if table else 0}

    def start(self) -> None:
        self.recorder.start()
        self.loop.start()
        self.tracking.start_thread()
        for thread in self._threads:
            thread.start()
        self.ipc.start()

    def wait_ready(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.loop.healthy() and self.controller.pos.unwrapped is not None:
                return True
            time.sleep(0.02)
        return False

    def shutdown(self) -> None:
        """Stop the dome (decelerating, bounded by ``stop_timeout_s``), then close all."""
        self.notifier.stopping()
        self.ipc.close()
        self.tracking.close()
        self._stop_threads.set()
        c = self.controller
        was_moving = c.is_moving()
        c.stop()
        deadline = time.monotonic() + self.settings.stop_timeout_s
        while c.is_moving() and time.monotonic() < deadline and self.loop.healthy():
            time.sleep(0.02)
        if c.is_moving():
            log.warning("dome did not stop in time: aborting")
            c.abort()
        self.loop.stop()
        c.shutdown()
        log.info("dome stopped", azimuth=c.azimuth(), was_moving=was_moving, state=c.state.value)
        self.stepper.close()
        self.encoder.close()
        if self.shutter is not None:
            with contextlib.suppress(OSError):
                self.shutter_drive.close()
        with contextlib.suppress(Exception):
            self.lg.gpiochip_close(self.handle)
        if self.sim is not None:
            snap = self.sim.snapshot()
            _sim_state_file(self.settings).write_text(json.dumps(snap))
        self.recorder.close()


def _arg(args: dict[str, Any], name: str) -> Any:
    if name not in args:
        raise InvalidValueError(f"missing {name}")
    return args[name]


def _helpers_realtime(priority: int, loop_priority: int) -> None:
    """SCHED_FIFO for this (main) thread before any other starts: the threads it starts
    inherit it, the loop thread raises itself above. Python threads share the GIL, so a
    helper preempted by ordinary processes while it holds the GIL would stall the loop
    however high the loop's own priority; at a (lower) real-time priority it is not."""
    if not priority or not hasattr(os, "sched_setscheduler"):
        return
    priority = min(priority, max(loop_priority - 1, 1))
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        log.info("control helper threads run SCHED_FIFO", priority=priority)
    except OSError as exc:
        log.warning("no real-time priority for the helper threads", error=str(exc))


def run_control(settings: DomeSettings, *, sim: bool) -> int:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    # The IPC, tracking and history threads share the GIL with the loop: hand it over
    # every 0.5 ms instead of 5 ms, so the loop waits at most that long for it.
    sys.setswitchinterval(0.0005)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal: stopping the dome", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    _helpers_realtime(settings.control_helper_rt_priority, settings.control_rt_priority)
    try:
        service = ControlService(settings, sim=sim)
    except (ImportError, OSError) as exc:
        # no lgpio/spidev (not a Pi, or the `pi` extra missing) or no access to the devices
        log.error("cannot open the dome hardware (use --sim to simulate)", error=str(exc))
        return 1
    service.start()
    if not service.wait_ready():
        log.error("control loop did not become healthy (no valid encoder frame)")
        service.shutdown()
        return 1
    az = service.controller.azimuth()
    service.notifier.ready(
        status="position unknown: find home" if az is None else f"dome at {az:.1f} deg"
    )
    log.info(
        "control ready",
        socket=str(settings.socket_path),
        simulated=sim,
        azimuth=az,
        state=service.controller.state.value,
        homing_required=service.controller.homing_required(),
    )
    code = 0
    while not stop.wait(0.2):
        if service.loop.failure is not None:
            code = 1
            break
    service.shutdown()
    if service.controller.state is State.FAULT:
        log.warning("exiting in fault", reason=service.controller.status().fault)
    return code
