"""The control loop on the real clock, with a real notification socket standing in for
systemd's (systemd is not PID 1 here): the watchdog is fed only while the loop is healthy."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from dome.control.loop import ControlLoop
from dome.core.controller import Controller
from dome.core.store import PositionStore
from dome.sim.dome import SimDome
from dome.sim.world import SimWorld
from labkit.systemd import Notifier


class Breakable(Controller):
    broken = False

    def tick(self) -> None:
        if self.broken:
            raise RuntimeError("simulated bug in a tick")
        super().tick()


def make(tmp_path: Path) -> tuple[Breakable, SimDome]:
    world = SimWorld(real_clock=time.monotonic)
    c = Breakable(
        world.mechanics,
        world.stepper,
        world.controller._encoder,
        PositionStore(None),
        time.monotonic,
    )
    return c, world.dome


def messages(sock: socket.socket) -> list[bytes]:
    out = []
    sock.setblocking(False)
    while True:
        try:
            out.append(sock.recv(256))
        except BlockingIOError:
            return out


def test_watchdog_fed_while_healthy_and_starved_after_a_failed_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    notifier = Notifier()
    controller, dome = make(tmp_path)
    loop = ControlLoop(controller, 0.02, notifier=notifier)
    loop.start()
    try:
        time.sleep(0.5)
        assert loop.healthy()
        fed = [m for m in messages(sock) if m == b"WATCHDOG=1"]
        assert len(fed) >= 5  # every 50 ms
        controller.move_continuous(1)
        time.sleep(0.3)
        assert dome.snapshot()["busy"]
        controller.broken = True
        time.sleep(0.3)
        assert not loop.healthy()
        assert loop.failure is not None
        assert "simulated bug" in loop.failure
        messages(sock)
        time.sleep(0.3)
        assert b"WATCHDOG=1" not in messages(sock)  # starved
        assert not dome.snapshot()["busy"]  # and the motor was stopped (lgpio says so)
    finally:
        loop.stop()
        sock.close()


def test_loop_ticks_and_keeps_its_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    controller, _ = make(tmp_path)
    loop = ControlLoop(controller, 0.02, notifier=Notifier())
    loop.start()
    time.sleep(1.0)
    loop.stop()
    stats = loop.stats()
    # the rate itself is a benchmark figure (tests/bench/dome_control.py), not a test
    assert stats["ticks"] > 5
    assert stats["rate_hz"] > 0
    assert sum(stats["bucket_counts"]) == stats["count"]
