"""The lgpio stand-in behaves as joan2937/lg's transmit thread does (lgPthTx.c, lgGpio.c at
the pinned 0.2.2.0): late start at the thread's next wake-up on the cycle grid, whole
microsecond periods, busy until the last cycle ends, a 10-entry queue."""

from __future__ import annotations

import pytest

from dome.sim.lgpio import IDLE_WAKE_US, LG_TX_BUF, SimLgpio


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pulses(lg: SimLgpio, gpio: int, until: float) -> list[tuple[int, int]]:
    return lg.take_edges(gpio, until)


@pytest.mark.parametrize("seed", range(8))
def test_a_train_on_an_idle_gpio_starts_at_the_next_wake_up_on_the_cycle_grid(seed: int) -> None:
    clock = Clock()
    lg = SimLgpio(clock, seed=seed)
    h = lg.gpiochip_open(0)
    lg.gpio_claim_output(h, 18, 0)
    queued_us = round(clock.now * 1e6)
    lg.tx_pulse(h, 18, 10, 990, 0, 5)  # 1 kHz
    assert lg.tx_busy(h, 18, lg.TX_PWM) == 1  # busy at once, though nothing went out
    clock.now += 0.1
    runs = pulses(lg, 18, clock.now)
    first = runs[0][0]
    assert sum(n for _, n in runs) == 5
    assert 0 < first - queued_us <= IDLE_WAKE_US + 1000
    assert first % 1000 == 0  # on the 1000 us grid of the microsecond-in-second clock


def test_a_clock_based_estimate_says_drained_while_lgpio_is_still_sending() -> None:
    """Why the old driver crashed: queued at t, n pulses at rate r "end" at t + n/r by
    the clock, but lgpio started them late, so it is still busy then (most of the
    time: by how much depends on the wake-up phase)."""
    late = 0
    for seed in range(20):
        clock = Clock()
        lg = SimLgpio(clock, seed=seed)
        h = lg.gpiochip_open(0)
        lg.tx_pulse(h, 18, 10, 990, 0, 20)  # 20 ms of pulses by the clock
        clock.now += 0.020 + 0.0005
        late += lg.tx_busy(h, 18, lg.TX_PWM)
    assert late >= 15


def test_periods_are_whole_microseconds_and_entries_follow_without_a_gap() -> None:
    clock = Clock()
    lg = SimLgpio(clock)
    h = lg.gpiochip_open(0)
    lg.tx_pulse(h, 18, 10, 290, 0, 3)  # 300 us
    lg.tx_pulse(h, 18, 10, 590, 0, 2)  # then 600 us
    clock.now += 0.1
    runs = pulses(lg, 18, clock.now)
    assert [n for _, n in runs] == [3, 2]
    (t0, _), (t1, _) = runs
    assert t1 - t0 == 3 * 300  # the next entry starts at the next start of cycle


def test_busy_until_the_last_cycle_ends_and_room_counts_the_entry_playing() -> None:
    clock = Clock()
    lg = SimLgpio(clock, seed=3)
    h = lg.gpiochip_open(0)
    assert lg.tx_room(h, 18, lg.TX_PWM) == LG_TX_BUF
    assert lg.tx_pulse(h, 18, 10, 9990, 0, 4) == LG_TX_BUF - 1  # 100 Hz
    assert lg.tx_pulse(h, 18, 10, 9990, 0, 4) == LG_TX_BUF - 2
    assert lg.tx_room(h, 18, lg.TX_PWM) == LG_TX_BUF - 2
    clock.now += 0.035  # the first pulse went out (at most 20 ms + one cycle late)
    runs = pulses(lg, 18, clock.now)
    first = runs[0][0]
    end_us = first + 8 * 10_000  # the low time of the eighth pulse ends the train
    clock.now = (end_us - 1) / 1e6
    assert lg.tx_busy(h, 18, lg.TX_PWM) == 1
    assert lg.tx_room(h, 18, lg.TX_PWM) == LG_TX_BUF - 1  # the second entry plays
    clock.now = end_us / 1e6
    assert lg.tx_busy(h, 18, lg.TX_PWM) == 0
    assert lg.tx_room(h, 18, lg.TX_PWM) == LG_TX_BUF


def test_the_queue_holds_ten_entries_and_refuses_more() -> None:
    clock = Clock()
    lg = SimLgpio(clock)
    h = lg.gpiochip_open(0)
    for _ in range(LG_TX_BUF):
        lg.tx_pulse(h, 18, 10, 990, 0, 100)
    with pytest.raises(lg.error, match="tx queue full"):
        lg.tx_pulse(h, 18, 10, 990, 0, 100)
    with pytest.raises(lg.error, match="bad PWM micros"):
        lg.tx_pulse(h, 19, 5, 5, 0, 1)


def test_stop_drops_the_queue_at_once() -> None:
    clock = Clock()
    lg = SimLgpio(clock)
    h = lg.gpiochip_open(0)
    lg.tx_pulse(h, 18, 10, 990, 0, 1000)
    clock.now += 0.2
    sent = sum(n for _, n in pulses(lg, 18, clock.now))
    assert 150 < sent < 200
    lg.tx_pulse(h, 18, 0, 0)
    assert lg.tx_busy(h, 18, lg.TX_PWM) == 0
    clock.now += 1.0
    assert pulses(lg, 18, clock.now) == []


def test_writes_to_dir_under_queued_pulses_and_both_relays_on_are_recorded() -> None:
    clock = Clock()
    lg = SimLgpio(clock)
    h = lg.gpiochip_open(0)
    lg.watch_dir(17, 18)
    lg.exclusive(5, 6)
    lg.gpio_write(h, 17, 1)  # idle: fine
    lg.tx_pulse(h, 18, 10, 990, 0, 100)
    lg.gpio_write(h, 17, 0)  # under queued pulses
    assert lg.dir_changes_while_busy == 1
    lg.gpio_write(h, 5, 1)
    assert lg.both_on == []
    lg.gpio_write(h, 6, 1)
    assert len(lg.both_on) == 1
