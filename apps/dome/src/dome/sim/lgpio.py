"""A stand-in for the ``lgpio`` module with lgpio's real pulse timing, on any clock.

Written from joan2937/lg at the version we pin (PyPI ``lgpio==0.2.2.0``, repository commit
bcccd782, unchanged in these files since tag v0.2.2), not from our driver:

- ``lgPthTx.c`` (``lgPthTx``): one transmit thread sleeps on absolute deadlines and
  wakes at every edge it has to output, and at least every 20 000 us
  (``pthTxDelayMicros = 20000; // run at least fifty times a second``). All times are
  whole microseconds.
- ``lgPthTx.c`` (``lgGpioCreateTxRec``): a pulse train queued while the GPIO is idle
  starts only after the thread's *next* wake-up, aligned to the cycle grid of the
  microsecond-in-second clock: ``left = ct - frac + pthTxDelayMicros + micros_offset``
  with ``ct = on + off`` and ``frac = usec % ct`` of that wake-up. So the first pulse
  comes up to ~20 ms + one cycle after ``tx_pulse`` returns.
- ``lgPthTx.c`` (PWM branch): at each start of cycle, an exhausted head entry is
  replaced by the next queued one with no gap; with nothing queued the record turns
  inactive at that start of cycle, i.e. after the last pulse's low time.
- ``lgGpio.c`` (``xSetAsPwm``): ``tx_pulse`` on an active GPIO appends an entry (at most
  ``LG_TX_BUF`` = 10, ``lgPthTx.h``; else ``LG_TX_QUEUE_FULL``) and returns the room left;
  ``on + off`` must exceed ``lgMinTxDelay`` (10 us) or it fails with
  ``LG_BAD_PWM_MICROS``; ``tx_pulse(h, g, 0, 0)`` only marks the record inactive, so the
  line stays where it was and the queue is dropped.
- ``lgGpio.c`` (``lgTxBusy``, ``lgTxRoom``): busy while the record is active; room is
  ``LG_TX_BUF - entries`` (the entry playing counts), ``LG_TX_BUF`` when idle.
- ``PY_LGPIO/lgpio_extra.py`` (``_u2i``): a negative status raises ``lgpio.error``.

Inputs read what the simulators attached to them say; writes to an output are recorded,
so tests can check that DIR never changed under queued pulses and that both shutter
relays were never on at once.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

TX_PWM = 0
TX_WAVE = 1
SET_ACTIVE_LOW = 4
SET_PULL_UP = 32
SET_PULL_DOWN = 64

LG_TX_BUF = 10
LG_MIN_TX_DELAY_US = 10
IDLE_WAKE_US = 20_000

BAD_PWM_MICROS = -86
TX_QUEUE_FULL = -96
BAD_HANDLE = -5
GPIO_NOT_AN_OUTPUT = -53

_ERRORS = {
    BAD_PWM_MICROS: "bad PWM micros",
    TX_QUEUE_FULL: "tx queue full",
    BAD_HANDLE: "unknown handle",
    GPIO_NOT_AN_OUTPUT: "GPIO not set as an output",
}


class error(Exception):  # noqa: N801, N818 - lgpio's own name for its exception
    pass


def _fail(code: int) -> error:
    return error(_ERRORS.get(code, f"lgpio error {code}"))


@dataclass
class _Entry:
    on_us: int
    off_us: int
    cycles: int  # left to start; 0 = exhausted (infinite trains are not modelled)

    @property
    def cycle_us(self) -> int:
        return self.on_us + self.off_us


@dataclass
class _TxRec:
    gpio: int
    entries: deque[_Entry]
    next_start_us: int  # the next start of cycle
    active: bool = True


@dataclass
class OutputLog:
    """Levels written to an output, with the time (us) of each change."""

    level: int = 0
    changes: list[tuple[int, int]] = field(default_factory=list)


class SimLgpio:
    """The subset of lgpio the dome uses, for one gpiochip, on ``clock`` (seconds)."""

    TX_PWM = TX_PWM
    TX_WAVE = TX_WAVE
    SET_ACTIVE_LOW = SET_ACTIVE_LOW
    SET_PULL_UP = SET_PULL_UP
    SET_PULL_DOWN = SET_PULL_DOWN
    error = error

    def __init__(self, clock: Callable[[], float], seed: int = 1) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        rng = random.Random(seed)  # noqa: S311 - a phase, not a secret
        # the thread started at some moment before us: its 20 ms grid has any phase
        self._last_wake_us = self._now_us() - rng.randrange(IDLE_WAKE_US)
        self._recs: dict[int, _TxRec] = {}
        self._outputs: dict[int, OutputLog] = {}
        self._inputs: dict[int, Callable[[], int]] = {}
        self._claimed_inputs: set[int] = set()
        self._edges: dict[int, deque[tuple[int, int]]] = {}  # gpio -> (time_us, count)
        self._watch: dict[int, int] = {}  # dir gpio -> step gpio
        self._after_write: dict[int, list[Callable[[], None]]] = {}
        self.dir_changes_while_busy = 0
        self.both_on: list[tuple[int, int, int]] = []  # (time_us, gpio_a, gpio_b)
        self._exclusive: list[tuple[int, int]] = []
        self.open_handles = 0

    # --- time -----------------------------------------------------------------------
    def _now_us(self) -> int:
        return round(self._clock() * 1e6)

    def _run(self, until_us: int) -> None:
        """Play the transmit thread up to ``until_us``."""
        while True:
            due = [r for r in self._recs.values() if r.active and r.next_start_us <= until_us]
            if not due:
                return
            rec = min(due, key=lambda r: r.next_start_us)
            t = rec.next_start_us
            head = rec.entries[0]
            if head.cycles == 0:
                if len(rec.entries) > 1:
                    rec.entries.popleft()
                    continue  # the next entry starts at this same start of cycle
                rec.active = False
                self._last_wake_us = t
                self._set_level(rec.gpio, 0, t)
                continue
            ct = head.cycle_us
            n = min(head.cycles, (until_us - t) // ct + 1)
            self._edges.setdefault(rec.gpio, deque()).append((t, n))
            last = t + (n - 1) * ct
            self._outputs.setdefault(rec.gpio, OutputLog()).level = (
                1 if until_us < last + head.on_us else 0
            )
            head.cycles -= n
            rec.next_start_us = last + ct
            # the thread woke at each of those edges (and at the falling edges between)
            self._last_wake_us = last + head.on_us if until_us >= last + head.on_us else last

    def _next_idle_wake(self, now_us: int) -> int:
        k = (now_us - self._last_wake_us) // IDLE_WAKE_US + 1
        return self._last_wake_us + k * IDLE_WAKE_US

    def _set_level(self, gpio: int, level: int, at_us: int) -> None:
        log = self._outputs.setdefault(gpio, OutputLog())
        if log.level != level:
            log.level = level
            log.changes.append((at_us, level))
            if len(log.changes) > 10_000:
                del log.changes[:5000]
        if level:
            for a, b in self._exclusive:
                other = b if gpio == a else a if gpio == b else None
                if other is not None and self._outputs.get(other, OutputLog()).level:
                    self.both_on.append((at_us, a, b))

    # --- what simulators and tests use ------------------------------------------------
    def attach_input(self, gpio: int, level: Callable[[], int]) -> None:
        """``level()`` gives the electrical level (0/1) of input ``gpio``."""
        self._inputs[gpio] = level

    def after_write(self, gpio: int, hook: Callable[[], None]) -> None:
        """Call ``hook`` after each write to ``gpio`` (a simulator following an output)."""
        self._after_write.setdefault(gpio, []).append(hook)

    def watch_dir(self, dir_gpio: int, step_gpio: int) -> None:
        """Count writes to ``dir_gpio`` while pulses on ``step_gpio`` are still queued."""
        self._watch[dir_gpio] = step_gpio

    def exclusive(self, gpio_a: int, gpio_b: int) -> None:
        """Record any moment both outputs are high (shutter open and close relays)."""
        self._exclusive.append((gpio_a, gpio_b))

    def level(self, gpio: int) -> int:
        with self._lock:
            self._run(self._now_us())
            return self._outputs.get(gpio, OutputLog()).level

    def quiet(self, gpio: int) -> bool:
        """No pulse train on ``gpio`` and no edges waiting to be taken."""
        with self._lock:
            return not self._busy(gpio) and not self._edges.get(gpio)

    def take_edges(self, gpio: int, until_s: float) -> list[tuple[int, int]]:
        """Rising edges on ``gpio`` up to ``until_s``: ``(time_us, count)`` runs, each
        run ``count`` pulses one cycle apart starting at ``time_us``; consumed."""
        with self._lock:
            until = round(until_s * 1e6)
            self._run(until)
            runs = self._edges.get(gpio)
            if not runs:
                return []
            out = list(runs)
            runs.clear()
            return out

    def dir_level_at(self, gpio: int, at_us: int) -> int:
        """The level ``gpio`` had at ``at_us`` (from the recorded changes)."""
        with self._lock:
            log = self._outputs.get(gpio, OutputLog())
            level = 0
            for t, value in log.changes:
                if t > at_us:
                    return level
                level = value
            return log.level if not log.changes else level

    # --- the lgpio API ----------------------------------------------------------------
    def gpiochip_open(self, gpiochip: int) -> int:
        self.open_handles += 1
        return 3

    def gpiochip_close(self, handle: int) -> int:
        self.open_handles -= 1
        return 0

    def gpio_claim_output(self, handle: int, gpio: int, level: int = 0, lFlags: int = 0) -> int:  # noqa: N803
        with self._lock:
            self._run(self._now_us())
            self._set_level(gpio, int(bool(level)), self._now_us())
        for hook in self._after_write.get(gpio, ()):
            hook()
        return 0

    def gpio_claim_input(self, handle: int, gpio: int, lFlags: int = 0) -> int:  # noqa: N803
        self._claimed_inputs.add(gpio)
        return 0

    def gpio_free(self, handle: int, gpio: int) -> int:
        self._claimed_inputs.discard(gpio)
        return 0

    def gpio_read(self, handle: int, gpio: int) -> int:
        with self._lock:
            source = self._inputs.get(gpio)
            if source is not None:
                return int(bool(source()))
            self._run(self._now_us())
            return self._outputs.get(gpio, OutputLog()).level

    def gpio_write(self, handle: int, gpio: int, level: int) -> int:
        with self._lock:
            now = self._now_us()
            self._run(now)
            step = self._watch.get(gpio)
            current = self._outputs.get(gpio, OutputLog()).level
            if step is not None and int(bool(level)) != current and self._busy(step):
                self.dir_changes_while_busy += 1
            self._set_level(gpio, int(bool(level)), now)
        for hook in self._after_write.get(gpio, ()):
            hook()
        return 0

    def _busy(self, gpio: int) -> bool:
        rec = self._recs.get(gpio)
        return rec is not None and rec.active

    def tx_pulse(
        self,
        handle: int,
        gpio: int,
        pulse_on: int,
        pulse_off: int,
        pulse_offset: int = 0,
        pulse_cycles: int = 0,
    ) -> int:
        with self._lock:
            now = self._now_us()
            self._run(now)
            rec = self._recs.get(gpio)
            if rec is not None and rec.active:
                if pulse_on == 0 and pulse_off == 0:
                    rec.active = False  # stop: the queue is dropped, the line left as is
                    return LG_TX_BUF
                if pulse_on + pulse_off <= LG_MIN_TX_DELAY_US:
                    raise _fail(BAD_PWM_MICROS)
                if pulse_cycles <= 0:
                    raise NotImplementedError("infinite pulse trains are not modelled here")
                if len(rec.entries) >= LG_TX_BUF:
                    raise _fail(TX_QUEUE_FULL)
                rec.entries.append(_Entry(pulse_on, pulse_off, pulse_cycles))
                return LG_TX_BUF - len(rec.entries)
            if pulse_on == 0 and pulse_off == 0:
                return LG_TX_BUF
            if pulse_cycles <= 0:
                raise NotImplementedError("infinite pulse trains are not modelled here")
            if pulse_on + pulse_off <= LG_MIN_TX_DELAY_US:
                raise _fail(BAD_PWM_MICROS)
            ct = pulse_on + pulse_off
            wake = self._next_idle_wake(now)
            frac = (wake % 1_000_000) % ct
            start = wake + ct - frac + pulse_offset
            self._recs[gpio] = _TxRec(
                gpio, deque([_Entry(pulse_on, pulse_off, pulse_cycles)]), start
            )
            return LG_TX_BUF - 1

    def tx_busy(self, handle: int, gpio: int, kind: int) -> int:
        with self._lock:
            self._run(self._now_us())
            return 1 if self._busy(gpio) else 0

    def tx_room(self, handle: int, gpio: int, kind: int) -> int:
        with self._lock:
            self._run(self._now_us())
            rec = self._recs.get(gpio)
            if rec is not None and rec.active:
                return LG_TX_BUF - len(rec.entries)
            return LG_TX_BUF
