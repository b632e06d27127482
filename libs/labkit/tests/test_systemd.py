"""The notifier against a real AF_UNIX datagram socket, as systemd provides one."""

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.systemd import Notifier, feed_watchdog


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()


def test_messages_reach_the_socket(
    notify_socket: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    notifier = Notifier()
    notifier.ready(status="serving")
    notifier.stopping()
    assert sock.recv(256) == b"READY=1\nSTATUS=serving"
    assert sock.recv(256) == b"STOPPING=1"


def test_without_systemd_everything_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    notifier = Notifier()
    notifier.ready()
    notifier.watchdog()
    assert not notifier.enabled
    assert notifier.watchdog_interval is None


def test_watchdog_interval_is_half_the_period_and_only_for_us(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "10000000")
    assert Notifier().watchdog_interval == 5.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert Notifier().watchdog_interval is None


def test_watchdog_is_fed_only_while_healthy(
    notify_socket: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = notify_socket
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "40000")  # a ping every 20 ms
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    notifier = Notifier()
    healthy = {"now": True}

    def drain() -> list[bytes]:
        got = []
        while True:
            try:
                got.append(sock.recv(64))
            except BlockingIOError:
                return got

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        task = asyncio.create_task(feed_watchdog(notifier, lambda: healthy["now"]))
        await asyncio.sleep(0.15)
        fed = drain()
        healthy["now"] = False
        await asyncio.sleep(0.03)  # let a ping that was due before the change land
        drain()
        await asyncio.sleep(0.15)
        starved = drain()
        task.cancel()
        return fed, starved

    fed, starved = asyncio.run(scenario())
    assert len(fed) >= 3
    assert set(fed) == {b"WATCHDOG=1"}
    assert starved == []
