from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dome.control.ipc import IpcClient, IpcServer
from dome.core.errors import DomeError, FaultedError, InvalidValueError, NotConnectedError


@pytest.fixture
def server() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ipc-", dir="/tmp")) / "s.sock"

    def fault(args: dict[str, Any]) -> None:
        raise FaultedError("dome is in fault (stall)")

    srv = IpcServer(path, {"echo": lambda a: a, "fault": fault, "boom": lambda a: 1 / 0})
    srv.start()
    yield path
    srv.close()


def test_round_trip_and_domain_errors_keep_their_kind(server: Path) -> None:
    client = IpcClient(server)
    assert client.call("echo", x=1) == {"x": 1}
    with pytest.raises(FaultedError, match="stall"):
        client.call("fault")
    with pytest.raises(InvalidValueError, match="unknown op"):
        client.call("launch")
    client.close()


def test_malformed_lines_are_answered_not_fatal(server: Path) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(server))
        f = s.makefile("rwb")
        for line in (b"not json\n", b"[1,2]\n", b'{"op": "echo", "args": 5}\n'):
            f.write(line)
            f.flush()
            assert b'"ok": false' in f.readline()
    client = IpcClient(server)
    with pytest.raises(DomeError, match="internal error"):
        client.call("boom")
    assert client.call("echo") == {}


def test_no_control_process_is_not_connected(tmp_path: Path) -> None:
    with pytest.raises(NotConnectedError):
        IpcClient(tmp_path / "absent.sock").call("status")


def test_concurrent_status_reads_share_one_call() -> None:
    """A burst of status reads from the API costs the control process one call."""
    import asyncio
    import threading

    from dome.control.ipc import AsyncIpcClient

    path = Path(tempfile.mkdtemp(prefix="ipc-", dir="/tmp")) / "s.sock"
    calls = []
    gate = threading.Event()

    def status(args: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        gate.wait(2)  # slow enough for the burst to arrive meanwhile
        return {"n": len(calls)}

    srv = IpcServer(path, {"status": status, "echo": lambda a: a})
    srv.start()
    try:

        async def run() -> list[Any]:
            client = AsyncIpcClient(path)
            reads = [asyncio.ensure_future(client.call("status")) for _ in range(20)]
            echoes = [asyncio.ensure_future(client.call("echo", i=i)) for i in range(3)]
            await asyncio.sleep(0.2)
            gate.set()
            out = await asyncio.gather(*reads, *echoes)
            later = await client.call("status")  # a new read after: a new call
            await client.close()
            return [*out, later]

        results = asyncio.run(run())
    finally:
        srv.close()
    assert results[:20] == [{"n": 1}] * 20
    assert results[20:23] == [{"i": 0}, {"i": 1}, {"i": 2}]  # commands are never shared
    assert results[23] == {"n": 2}
    assert len(calls) == 2
