"""The lab: every instrument by name, their readings, a monitor that keeps status (and
the laser's watchdog) fresh, and the acquisitions and scans that use them."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, TypeVar

from daq import __version__
from daq.core.acquisition import AcquisitionManager
from daq.core.errors import InstrumentFault, UnknownInstrument, UnknownReading
from daq.core.instruments import Instrument, MountBus, Reading, Sample, StageController
from daq.core.jobs import JobRegistry
from daq.core.recorders import Reserve, recover_journals
from daq.core.scans import ScanManager
from daq.core.stream import Broadcaster
from daq.metrics import DaqMetrics
from labkit.logs import get_logger

log = get_logger(__name__)
I = TypeVar("I", bound=Instrument)  # noqa: E741


class MountActuator:
    def __init__(self, bus: MountBus, name: str) -> None:
        self.bus, self.label = bus, name

    def check(self, target: float) -> None:
        self.bus.check_angle(self.label, target)

    def move(self, target: float) -> float:
        return self.bus.move(self.label, target).angle_deg

    def stop(self) -> None:
        self.bus.stop_mount(self.label)


class AxisActuator:
    def __init__(self, controller: StageController, axis: int) -> None:
        self.controller, self.axis = controller, axis
        self.driver_axis = controller.axis(axis)
        self.label = f"{controller.name}.axis{axis}"

    def check(self, target: float) -> None:
        self.driver_axis.check_target(target)

    def move(self, target: float) -> float:
        return self.controller.move(self.axis, target, wait=True).position

    def stop(self) -> None:
        self.controller.stop_axis(self.axis)


class Lab:
    def __init__(
        self,
        instruments: list[Instrument],
        data_dir: Path,
        metrics: DaqMetrics,
        monitor_interval_s: float = 1.0,
        reserve_bytes: int = 0,
    ) -> None:
        self.instruments = {i.name: i for i in instruments}
        self.metrics = metrics
        self.data_dir = data_dir
        self.monitor_interval_s = monitor_interval_s
        self.stream = Broadcaster()
        self._readings: dict[str, Reading] = {}
        self._reading_owner: dict[str, str] = {}
        for inst in instruments:
            for name, read in inst.readings().items():
                self._readings[name] = read
                self._reading_owner[name] = inst.name
        self.reserve = Reserve(data_dir, reserve_bytes)
        self.jobs = JobRegistry(metrics)
        self.acquisitions = AcquisitionManager(
            self.jobs,
            data_dir / "acquisitions",
            self.reading,
            self.metadata,
            self.stream,
            self.reserve,
        )
        self.scans = ScanManager(
            self.jobs, data_dir / "scans", self.reading, self.metadata, self.stream, self.reserve
        )
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None

    # --- lookup -------------------------------------------------------------------------

    def get(self, name: str, cls: type[I] = Instrument) -> I:  # type: ignore[assignment]
        inst = self.instruments.get(name)
        if not isinstance(inst, cls):
            kind = cls.kind or "instrument"
            known = [n for n, i in self.instruments.items() if isinstance(i, cls)]
            raise UnknownInstrument(name, kind, known)
        return inst

    def mount_bus(self, name: str) -> MountBus:
        """The bus that has the mount called ``name``."""
        for inst in self.instruments.values():
            if isinstance(inst, MountBus) and name in inst.mounts:
                return inst
        known = [m for i in self.instruments.values() if isinstance(i, MountBus) for m in i.mounts]
        raise UnknownInstrument(name, "ell14 mount", known)

    def mount_actuator(self, name: str) -> MountActuator:
        return MountActuator(self.mount_bus(name), name)

    def axis_actuator(self, controller: str, axis: int) -> AxisActuator:
        return AxisActuator(self.get(controller, StageController), axis)

    @property
    def reading_names(self) -> list[str]:
        return sorted(self._readings)

    def check_readings(self, names: list[str]) -> None:
        for name in names:
            if name not in self._readings:
                raise UnknownReading(name, self.reading_names)

    def reading(self, name: str) -> Reading:
        if name not in self._readings:
            raise UnknownReading(name, self.reading_names)
        return self._readings[name]

    def read(self, name: str) -> Sample:
        return self.reading(name).read()

    def metadata(self, readings: list[str]) -> dict[str, Any]:
        """Which instruments and settings produce ``readings``: goes into data files."""
        owners = sorted({self._reading_owner[r] for r in readings if r in self._reading_owner})
        return {
            "producer": f"daq {__version__}",
            "software": {"daq": __version__},
            "time_base": {
                "column": "time_utc",
                "clock": "the daemon host's system clock (UTC), read when the row is taken",
                "resolution": "1 microsecond",
                "files": "CSV: ISO 8601 with microseconds; Parquet/Arrow: timestamp[us, UTC];"
                " HDF5: int64 microseconds since the Unix epoch",
            },
            "units": {r: self._readings[r].unit for r in readings if r in self._readings},
            # every instrument's identity and settings at start, not only those read
            "instruments": {
                name: {"kind": inst.kind, "reads": name in owners, **inst.settings()}
                for name, inst in self.instruments.items()
            },
        }

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        recovered = [
            path
            for sub in ("acquisitions", "scans")
            if (self.data_dir / sub).is_dir()
            for path in recover_journals(self.data_dir / sub)
        ]
        for path in recovered:
            log.warning("recovered an acquisition journal left by a crash", path=str(path))
        for inst in self.instruments.values():
            inst.connect()
            if inst.up:
                try:
                    # whatever the last run left, start from a safe state
                    inst.run("safe_state", inst.safe_state)
                except InstrumentFault as exc:
                    log.error("safe state failed", instrument=inst.name, error=str(exc))
            inst.start()
        self.monitor_once()
        self._monitor = threading.Thread(target=self._monitor_loop, name="monitor", daemon=True)
        self._monitor.start()

    def monitor_once(self) -> None:
        for inst in self.instruments.values():
            inst.refresh()

    def _monitor_loop(self) -> None:
        while not self._stop.wait(self.monitor_interval_s):
            self.monitor_once()

    def healthy(self) -> bool:
        return self._monitor is not None and self._monitor.is_alive()

    def shutdown(self) -> None:
        """Stop jobs, close the shutter, stop the stages, release the ports."""
        self._stop.set()
        self.jobs.stop_all()
        if self._monitor is not None:
            self._monitor.join(5)
        for inst in self.instruments.values():
            inst.stop()
            try:
                inst.run("safe_state", inst.safe_state)
            except InstrumentFault as exc:
                log.error(
                    "could not reach a safe state at shutdown", instrument=inst.name, error=str(exc)
                )
            inst.link.close()
