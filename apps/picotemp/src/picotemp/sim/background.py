"""The simulator on its own event loop in a thread, driven from synchronous code (tests,
notebooks): ``with BackgroundSimulator() as sim: sim.set_fault("down")``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from labkit.listen import ListenAddress

from picotemp.firmware import core
from picotemp.sim.faults import Fault, FaultState
from picotemp.sim.sensor import SimulatedAdc, TemperatureCurve
from picotemp.sim.server import PicoSimulator

T = TypeVar("T")


class BackgroundSimulator:
    def __init__(
        self,
        listen: ListenAddress | None = None,
        curve: TemperatureCurve | None = None,
    ) -> None:
        self.adc = SimulatedAdc(curve or TemperatureCurve())
        self.sim = PicoSimulator(listen or ListenAddress("127.0.0.1", 0), core.Sensor(self.adc))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> BackgroundSimulator:
        self._thread.start()
        self._call(self.sim.start())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self.sim.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def set_fault(self, fault: Fault | str, delay_seconds: float | None = None) -> FaultState:
        return self._call(self.sim.set_fault(fault, delay_seconds))

    @property
    def requests_total(self) -> int:
        return self.sim.requests_total

    @property
    def url(self) -> str:
        return self.sim.url

    def __enter__(self) -> BackgroundSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
