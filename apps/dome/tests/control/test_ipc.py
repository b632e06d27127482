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
