"""A controller wired to a simulated dome on a clock the caller advances: the harness for
tests and benchmarks that need simulated time (hours of tracking in seconds).

The controller drives the real drivers (:class:`~dome.hardware.stepper.LgpioStepper`,
:class:`~dome.hardware.encoder.SpiEncoder`, :class:`~dome.hardware.gpio.GpioInput`) over
the stand-ins for lgpio and spidev, so the simulated time includes lgpio's pulse timing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dome.core.controller import Controller, HomeSwitch
from dome.core.mechanics import Mechanics
from dome.core.store import PositionStore
from dome.hardware.encoder import SpiEncoder
from dome.hardware.gpio import GpioInput
from dome.hardware.stepper import LgpioStepper
from dome.sim.dome import SimDome, SimMechanics, SimSpiDev
from dome.sim.lgpio import SimLgpio

DIR_GPIO, STEP_GPIO, HOME_GPIO = 17, 18, 27


@dataclass
class ManualClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class SimWorld:
    mechanics: Mechanics = field(default_factory=Mechanics)
    start_deg: float = 0.0
    state_file: Path | None = None
    backlash_deg: float = 0.1
    slip_fraction: float = 0.002
    inertia_s: float = 0.02
    # how the simulated hardware is built, which may differ from what the controller is
    # told (a dome whose encoder really counts the other way)
    motor_reversed: bool | None = None
    encoder_reversed: bool | None = None
    home_deg: float | None = None
    home_switch_deg: float | None = None
    spi_mode: int = 0
    seed: int = 1
    # None: a ManualClock the test advances; or a real clock (time.monotonic)
    real_clock: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        m = self.mechanics
        self.clock: Callable[[], float] = self.real_clock or ManualClock()
        self.lg = SimLgpio(self.clock, seed=self.seed)
        self.dome = SimDome(
            SimMechanics(
                steps_per_dome_turn=m.steps_per_dome_turn,
                encoder_turns_per_dome_turn=m.encoder_turns_per_dome_turn,
                backlash_deg=self.backlash_deg,
                slip_fraction=self.slip_fraction,
                inertia_s=self.inertia_s,
                motor_reversed=(
                    m.motor_reversed if self.motor_reversed is None else self.motor_reversed
                ),
                encoder_reversed=(
                    m.encoder_reversed if self.encoder_reversed is None else self.encoder_reversed
                ),
                home_deg=self.home_deg,
            ),
            clock=self.clock,
            lg=self.lg,
            dir_gpio=DIR_GPIO,
            step_gpio=STEP_GPIO,
            home_gpio=HOME_GPIO if self.home_deg is not None else None,
            dome_deg=self.start_deg,
            seed=self.seed,
        )
        handle = self.lg.gpiochip_open(0)
        self.stepper = LgpioStepper(self.lg, handle, DIR_GPIO, STEP_GPIO, clock=self.clock)
        home = None
        if self.home_deg is not None:
            switch_az = self.home_deg if self.home_switch_deg is None else self.home_switch_deg
            home = HomeSwitch(GpioInput(self.lg, handle, HOME_GPIO, active_low=True), switch_az)
        self.events: list[tuple[str, dict[str, object]]] = []
        self.store = PositionStore(self.state_file, synchronous=True)
        self.controller = Controller(
            m,
            self.stepper,
            SpiEncoder(SimSpiDev(self.dome, self.spi_mode), self.spi_mode),
            self.store,
            self.clock,
            on_event=lambda kind, data: self.events.append((kind, data)),
            home_switch=home,
        )

    @property
    def manual(self) -> ManualClock:
        assert isinstance(self.clock, ManualClock), "this world runs on a real clock"
        return self.clock

    def run(self, seconds: float) -> None:
        """Advance simulated time by ``seconds``, ticking the controller each period."""
        period = self.mechanics.period
        clock = self.manual
        for _ in range(round(seconds / period)):
            clock.now += period
            self.controller.tick()

    def run_until(self, condition: object, timeout: float) -> float:
        """Tick until ``condition()`` is true; returns the simulated seconds it took."""
        assert callable(condition)
        period = self.mechanics.period
        clock = self.manual
        start = clock.now
        while clock.now - start < timeout:
            clock.now += period
            self.controller.tick()
            if condition():
                return clock.now - start
        raise TimeoutError(f"condition not met within {timeout} simulated seconds")
