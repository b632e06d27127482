"""The control process: owns the motor, the encoder, the state machine and the tracker.

It runs without the API process: the API only talks to it over the IPC socket, so a crash
or hang of the web layer leaves the loop, its stall detection and its watchdog as they are.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dome.config import DomeSettings
from dome.control.ipc import Handler, IpcServer
from dome.control.loop import ControlLoop
from dome.core.controller import Controller, State
from dome.core.errors import InvalidValueError
from dome.core.sessions import SessionRecorder
from dome.core.store import PositionStore
from dome.core.tracking import TrackingService, build_tracking
from dome.hardware.encoder import Encoder, SpiEncoder
from dome.hardware.stepper import LgpioStepper, Stepper
from dome.sim.dome import SimDome, SimEncoder, SimMechanics, SimStepper
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
        self.mechanics = settings.mechanics()
        stepper: Stepper
        encoder: Encoder
        if sim:
            start = 0.0
            state_file = _sim_state_file(settings)
            if state_file.exists():
                start = float(json.loads(state_file.read_text()).get("dome_deg", 0.0))
            self.sim = SimDome(
                SimMechanics(
                    steps_per_dome_turn=self.mechanics.steps_per_dome_turn,
                    encoder_turns_per_dome_turn=self.mechanics.encoder_turns_per_dome_turn,
                ),
                clock=time.monotonic,
                dome_deg=start,
            )
            stepper, encoder = SimStepper(self.sim), SimEncoder(self.sim)
        else:
            encoder = SpiEncoder(
                settings.spi_bus, settings.spi_device, settings.spi_speed_hz, settings.spi_mode
            )
            stepper = LgpioStepper(settings.gpio_chip, settings.dir_gpio, settings.step_gpio)
        self.stepper, self.encoder = stepper, encoder
        self.recorder = SessionRecorder(settings.sessions_db, settings.session_retention_days)
        self.controller = Controller(
            self.mechanics,
            stepper,
            encoder,
            PositionStore(settings.positions_file),
            time.monotonic,
            on_event=self.recorder.record,
        )
        self.tracking: TrackingService = build_tracking(
            settings, self.controller, self.recorder.record
        )
        self.notifier = notifier or Notifier()
        self.loop = ControlLoop(
            self.controller,
            self.mechanics.period,
            notifier=self.notifier,
            rt_priority=settings.control_rt_priority,
        )
        self.ipc = IpcServer(settings.socket_path, self.handlers())

    def handlers(self) -> dict[str, Handler]:
        c = self.controller

        def status(_: dict[str, Any]) -> dict[str, Any]:
            out = c.status().as_dict()
            out["tracking"] = self.tracking.describe()
            out["tracking_error_deg"] = c.tracking_error()
            out["loop_healthy"] = self.loop.healthy()
            out["simulated"] = self.sim is not None
            return out

        def sim_faults(args: dict[str, Any]) -> dict[str, Any]:
            assert self.sim is not None
            self.sim.faults.update(**args)
            return self.sim.snapshot()

        h: dict[str, Handler] = {
            "status": status,
            "loop_stats": lambda a: self.loop.stats(),
            "loop_periods": lambda a: list(self.loop.recent_periods),
            "goto": lambda a: c.goto(_arg(a, "azimuth")),
            "jog": lambda a: c.jog(_arg(a, "degrees")),
            "continuous": lambda a: c.move_continuous(_arg(a, "direction")),
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
        }
        if self.sim is not None:
            h["sim_faults"] = sim_faults
            h["sim_state"] = lambda a: self.sim.snapshot() if self.sim else {}
        return h

    def start(self) -> None:
        self.recorder.start()
        self.loop.start()
        self.tracking.start_thread()
        self.ipc.start()

    def wait_ready(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.loop.healthy() and self.controller.azimuth() is not None:
                return True
            time.sleep(0.02)
        return False

    def shutdown(self) -> None:
        """Stop the dome (decelerating, bounded by ``stop_timeout_s``), then close all."""
        self.notifier.stopping()
        self.ipc.close()
        self.tracking.close()
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
        if self.sim is not None:
            snap = self.sim.snapshot()
            _sim_state_file(self.settings).write_text(json.dumps(snap))
        self.recorder.close()


def _arg(args: dict[str, Any], name: str) -> Any:
    if name not in args:
        raise InvalidValueError(f"missing {name}")
    return args[name]


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
    service.notifier.ready(status=f"dome at {service.controller.azimuth():.1f} deg")
    log.info(
        "control ready",
        socket=str(settings.socket_path),
        simulated=sim,
        azimuth=service.controller.azimuth(),
        state=service.controller.state.value,
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
