"""Every simulator on its own pty, wired to one shared optical bench."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from daq.sim.ell14 import Ell14BusSim
from daq.sim.esp300 import ESP300Sim
from daq.sim.maitai import MaiTaiSim
from daq.sim.pm1830c import PowerMeter1830CSim
from daq.sim.pty_port import PtyPort, SimDevice
from daq.sim.world import World

KINDS = ("esp300", "1830c", "maitai", "ell14")
BAUD = {"esp300": 19200, "1830c": 9600, "maitai": 115200, "ell14": 9600}


@dataclass
class SimLab:
    directory: Path
    addresses: list[str] = field(default_factory=lambda: ["0", "1"])
    warmup_seconds: float = 2.0
    laser_warm: bool = False
    """Start with the laser already warm (most tests); False starts it cold."""
    shutter_lag: float = 0.3
    """Seconds ``SHUT?`` lags a command (about 1 s on a real laser; shorter keeps tests fast)."""
    world: World = field(default_factory=World)
    ports: dict[str, PtyPort] = field(default_factory=dict)

    def __post_init__(self) -> None:
        now = time.monotonic()
        self.esp300 = ESP300Sim()
        self.maitai = MaiTaiSim(
            warmup_seconds=self.warmup_seconds,
            started=now,
            warm=self.laser_warm,
            shutter_lag=self.shutter_lag,
        )
        self.ell14 = Ell14BusSim(self.addresses)
        self.pm = PowerMeter1830CSim(self.world)
        self.world.laser_output = self.maitai.output
        first = self.ell14.mounts[self.addresses[0].upper()]
        self.world.plate_angle = first.degrees
        devices: dict[str, SimDevice] = {
            "esp300": self.esp300,
            "1830c": self.pm,
            "maitai": self.maitai,
            "ell14": self.ell14,
        }
        for kind, device in devices.items():
            self.ports[kind] = PtyPort(device, self.directory / f"sim-{kind}", baudrate=BAUD[kind])

    def link(self, kind: str) -> Path:
        return self.ports[kind].link

    def start(self) -> SimLab:
        for port in self.ports.values():
            port.start()
        return self

    def stop(self) -> None:
        for port in self.ports.values():
            port.stop()

    def __enter__(self) -> SimLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def config(self, data_dir: Path, listen: str = "127.0.0.1:8470") -> dict[str, object]:
        """A daemon configuration that points at these simulators."""
        return {
            "listen": listen,
            "data_dir": str(data_dir),
            "safety": {"laser_interlock_closed": True},
            "instruments": [
                {
                    "name": "stage",
                    "kind": "esp300",
                    "port": str(self.link("esp300")),
                    "axes": [
                        {"number": 1, "minimum": -25, "maximum": 25},
                        {"number": 2, "minimum": 0, "maximum": 360},
                    ],
                },
                {"name": "meter", "kind": "pm1830c", "port": str(self.link("1830c"))},
                {"name": "laser", "kind": "maitai", "port": str(self.link("maitai"))},
                {
                    "name": "mounts",
                    "kind": "ell14",
                    "port": str(self.link("ell14")),
                    "mounts": [{"name": f"mount{a}", "address": a} for a in self.addresses],
                },
            ],
        }
