"""The stepper (DM556T driver, DIR and STEP on GPIO) behind a narrow interface.

The control loop only ever queues *segments* (a direction, a step rate, a number of steps)
and flushes them. Pulses are timed by lgpio's C thread, never by Python sleeps: Python only
keeps the queue a couple of control periods deep, so a hung Python process runs out of
queued steps within tens of milliseconds and the dome stops by itself.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Segment:
    """``steps`` pulses at ``rate_hz`` in ``direction`` (+1 clockwise seen from above, -1)."""

    direction: int
    rate_hz: float
    steps: int

    def __post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ValueError(f"direction must be +1 or -1, got {self.direction}")
        if not self.rate_hz > 0:
            raise ValueError(f"rate must be positive, got {self.rate_hz}")
        if self.steps <= 0:
            raise ValueError(f"steps must be positive, got {self.steps}")

    @property
    def duration(self) -> float:
        return self.steps / self.rate_hz


class DirectionChangeError(RuntimeError):
    """DIR may only change once every queued pulse has gone out (the driver samples DIR on
    each pulse edge); the caller must let the queue drain first."""


class Stepper(Protocol):
    def queue(self, segment: Segment) -> None:
        """Append pulses after those already queued."""

    def pending_steps(self) -> int:
        """Steps queued and not yet sent."""

    def emitted_steps(self) -> int:
        """Signed total of the steps sent since the stepper was opened."""

    def flush(self) -> None:
        """Stop now: drop everything queued (abort)."""

    def close(self) -> None: ...


class _Timeline:
    """Book-keeping shared by drivers whose pulses run on someone else's clock: which
    queued segment is playing now, from the time each was queued."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._queue: deque[tuple[Segment, float]] = deque()
        self._emitted_done = 0

    def _retire(self, now: float) -> None:
        while self._queue:
            segment, start = self._queue[0]
            if start + segment.duration > now:
                return
            self._emitted_done += segment.direction * segment.steps
            self._queue.popleft()

    def add(self, segment: Segment) -> None:
        now = self._clock()
        self._retire(now)
        start = now
        if self._queue:
            last, last_start = self._queue[-1]
            start = max(now, last_start + last.duration)
        self._queue.append((segment, start))

    def direction(self) -> int | None:
        self._retire(self._clock())
        return self._queue[0][0].direction if self._queue else None

    def pending(self) -> int:
        now = self._clock()
        self._retire(now)
        total = 0
        for segment, start in self._queue:
            played = max(0.0, min(segment.duration, now - start))
            total += segment.steps - int(played * segment.rate_hz)
        return total

    def emitted(self) -> int:
        now = self._clock()
        self._retire(now)
        total = self._emitted_done
        if self._queue:
            segment, start = self._queue[0]
            total += segment.direction * int(max(0.0, now - start) * segment.rate_hz)
        return total

    def cut(self) -> None:
        """Everything not yet played is dropped."""
        now = self._clock()
        self._retire(now)
        if self._queue:
            segment, start = self._queue[0]
            self._emitted_done += segment.direction * int(max(0.0, now - start) * segment.rate_hz)
        self._queue.clear()


@dataclass(frozen=True, slots=True)
class PulseTiming:
    """From the DM556T datasheet: PUL high at least 2.5 us, DIR set at least 5 us before
    the pulse edge. The defaults keep a margin."""

    pulse_width_us: int = 10
    dir_lead_us: int = 10


class LgpioStepper:
    """DIR and STEP on a gpiochip through lgpio's queued pulses (``tx_pulse``).

    ``lgpio`` is imported here, lazily, so that the package imports on machines without it.
    """

    def __init__(
        self,
        chip: int,
        dir_gpio: int,
        step_gpio: int,
        timing: PulseTiming = PulseTiming(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import lgpio

        self._lg: Any = lgpio
        self._handle = lgpio.gpiochip_open(chip)
        self._dir = dir_gpio
        self._step = step_gpio
        self._timing = timing
        lgpio.gpio_claim_output(self._handle, dir_gpio, 0)
        lgpio.gpio_claim_output(self._handle, step_gpio, 0)
        self._direction = 1
        self._timeline = _Timeline(clock)

    def queue(self, segment: Segment) -> None:
        if segment.direction != self._direction:
            if self._lg.tx_busy(self._handle, self._step, self._lg.TX_PWM):
                raise DirectionChangeError("queued pulses still going out")
            self._lg.gpio_write(self._handle, self._dir, 1 if segment.direction > 0 else 0)
            self._direction = segment.direction
            # DIR lead time: a few microseconds, far below the control period, and the
            # pulses themselves are still timed by lgpio.
            time.sleep(self._timing.dir_lead_us / 1e6)
        period_us = round(1e6 / segment.rate_hz)
        on_us = min(self._timing.pulse_width_us, period_us // 2)
        self._lg.tx_pulse(self._handle, self._step, on_us, period_us - on_us, 0, segment.steps)
        self._timeline.add(segment)

    def pending_steps(self) -> int:
        return self._timeline.pending()

    def emitted_steps(self) -> int:
        return self._timeline.emitted()

    def flush(self) -> None:
        self._lg.tx_pulse(self._handle, self._step, 0, 0)
        self._timeline.cut()

    def close(self) -> None:
        self.flush()
        self._lg.gpiochip_close(self._handle)
