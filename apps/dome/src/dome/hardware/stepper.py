"""The stepper (DM556T driver, DIR and STEP on GPIO) through lgpio's queued pulses.

The control loop only ever queues *segments* (a direction, a step rate, a number of
steps) and flushes them. Pulses are timed by lgpio's transmit thread, never by Python
sleeps: Python keeps the queue a couple of control periods deep, so a hung Python
process runs out of queued steps within tens of milliseconds and the dome stops.

What is still queued is asked of lgpio itself (``tx_busy``, ``tx_room``), never
estimated from the clock: lgpio starts a train queued on an idle GPIO only at its
thread's next wake-up (up to ~20 ms later) and rounds periods to whole microseconds
(joan2937/lg ``lgPthTx.c``; see :mod:`dome.sim.lgpio`), so a clock-based estimate says
"drained" while pulses are still going out.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dome.core.ports import DirectionChangeError, QueueFullError, Segment

# lgpio's transmit thread wakes at least every 20 000 us (lgPthTx.c): the latest a train
# queued on an idle GPIO can start, before its own first cycle.
_IDLE_START_LATENCY_S = 0.020


@dataclass(frozen=True, slots=True)
class PulseTiming:
    """From the DM556T datasheet: PUL high at least 2.5 us, DIR set at least 5 us before
    the pulse edge. The defaults keep a margin."""

    pulse_width_us: int = 10
    dir_lead_us: int = 10


@dataclass
class _Queued:
    segment: Segment
    period_us: int
    started: float | None  # a time no later than its first pulse, once known


class LgpioStepper:
    """DIR and STEP on a gpiochip through ``tx_pulse``.

    ``lg`` is the lgpio module (imported lazily by :func:`open_lgpio`, so the package
    imports on machines without it) or :class:`dome.sim.lgpio.SimLgpio`.
    """

    def __init__(
        self,
        lg: Any,
        handle: int,
        dir_gpio: int,
        step_gpio: int,
        timing: PulseTiming = PulseTiming(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lg = lg
        self._handle = handle
        self._dir = dir_gpio
        self._step = step_gpio
        self._timing = timing
        self._clock = clock
        lg.gpio_claim_output(handle, dir_gpio, 1)
        lg.gpio_claim_output(handle, step_gpio, 0)
        self._direction = 1
        self._queue: deque[_Queued] = deque()
        self._emitted_done = 0

    # --- asking lgpio -------------------------------------------------------------------
    def busy(self) -> bool:
        return bool(self._lg.tx_busy(self._handle, self._step, self._lg.TX_PWM))

    def room(self) -> int:
        return int(self._lg.tx_room(self._handle, self._step, self._lg.TX_PWM))

    def _sync(self) -> None:
        """Retire the segments lgpio reports done (its queue holds ``LG_TX_BUF - room``
        entries, the one playing included)."""
        if not self._queue:
            return
        in_engine = 10 - self.room() if self.busy() else 0
        done = len(self._queue) - max(0, min(in_engine, len(self._queue)))
        now = self._clock()
        for _ in range(done):
            q = self._queue.popleft()
            self._emitted_done += q.segment.direction * q.segment.steps
            if self._queue and self._queue[0].started is None:
                # its predecessor ended at or before now: started no later than now
                self._queue[0].started = now

    def _partial(self, q: _Queued, now: float) -> int:
        if q.started is None or now <= q.started:
            return 0
        played = int((now - q.started) * 1e6 / q.period_us)
        return min(played, q.segment.steps - 1)

    # --- the Stepper interface ----------------------------------------------------------
    def queue(self, segment: Segment) -> None:
        self._sync()
        if segment.direction != self._direction:
            if self.busy():
                raise DirectionChangeError("queued pulses still going out")
            self._lg.gpio_write(self._handle, self._dir, 1 if segment.direction > 0 else 0)
            self._direction = segment.direction
        if self.busy() and self.room() <= 0:
            raise QueueFullError("lgpio's pulse queue is full")
        period_us = max(round(1e6 / segment.rate_hz), 2 * self._timing.pulse_width_us)
        on_us = min(self._timing.pulse_width_us, period_us // 2)
        idle = not self.busy()
        # the offset delays the first pulse of a new train past the DIR lead time; lgpio
        # applies it only when it creates the train (lgGpioCreateTxRec)
        self._lg.tx_pulse(
            self._handle, self._step, on_us, period_us - on_us, self._timing.dir_lead_us,
            segment.steps,
        )  # fmt: skip
        started = None
        if idle:
            self._queue.clear()
            started = (
                self._clock() + _IDLE_START_LATENCY_S + (period_us + self._timing.dir_lead_us) / 1e6
            )
        self._queue.append(_Queued(segment, period_us, started))

    def emitted_steps(self) -> int:
        self._sync()
        total = self._emitted_done
        if self._queue:
            head = self._queue[0]
            total += head.segment.direction * self._partial(head, self._clock())
        return total

    def flush(self) -> None:
        self._sync()
        self._lg.tx_pulse(self._handle, self._step, 0, 0)
        if self._queue:
            head = self._queue[0]
            self._emitted_done += head.segment.direction * self._partial(head, self._clock())
        self._queue.clear()

    def close(self) -> None:
        self.flush()


def open_lgpio(chip: int) -> tuple[Any, int]:
    """The real lgpio module and a handle on ``chip`` (Pi 5: check with ``gpiodetect``)."""
    import lgpio

    return lgpio, lgpio.gpiochip_open(chip)
