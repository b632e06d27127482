"""A controller wired to a simulated dome on a clock the caller advances: the harness for
tests and benchmarks that need simulated time (hours of tracking in seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dome.core.controller import Controller
from dome.core.mechanics import Mechanics
from dome.core.store import PositionStore
from dome.sim.dome import SimDome, SimEncoder, SimMechanics, SimStepper


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

    def __post_init__(self) -> None:
        self.clock = ManualClock()
        self.dome = SimDome(
            SimMechanics(
                steps_per_dome_turn=self.mechanics.steps_per_dome_turn,
                encoder_turns_per_dome_turn=self.mechanics.encoder_turns_per_dome_turn,
                backlash_deg=self.backlash_deg,
                slip_fraction=self.slip_fraction,
                inertia_s=self.inertia_s,
            ),
            clock=self.clock,
            dome_deg=self.start_deg,
        )
        self.events: list[tuple[str, dict[str, object]]] = []
        self.controller = Controller(
            self.mechanics,
            SimStepper(self.dome),
            SimEncoder(self.dome),
            PositionStore(self.state_file),
            self.clock,
            on_event=lambda kind, data: self.events.append((kind, data)),
        )

    def run(self, seconds: float) -> None:
        """Advance simulated time by ``seconds``, ticking the controller each period."""
        period = self.mechanics.period
        for _ in range(round(seconds / period)):
            self.clock.now += period
            self.controller.tick()

    def run_until(self, condition: object, timeout: float) -> float:
        """Tick until ``condition()`` is true; returns the simulated seconds it took."""
        assert callable(condition)
        period = self.mechanics.period
        start = self.clock.now
        while self.clock.now - start < timeout:
            self.clock.now += period
            self.controller.tick()
            if condition():
                return self.clock.now - start
        raise TimeoutError(f"condition not met within {timeout} simulated seconds")
