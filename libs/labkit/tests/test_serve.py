"""labkit.serve in a real child process, with a real notify socket standing in for systemd."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

APP = """
import sys
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from labkit.listen import ListenAddress
from labkit.logs import configure_logging
from labkit.serve import serve

async def hello(request):
    return PlainTextResponse("hello")

configure_logging("INFO")
serve(Starlette(routes=[Route("/", hello)]), ListenAddress.parse(sys.argv[1]), name="demo")
print("returned", flush=True)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def receive_until(sock: socket.socket, wanted: str, timeout: float) -> list[str]:
    messages: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            break
        if any(wanted in m for m in messages):
            return messages
    raise AssertionError(f"{wanted!r} never arrived; got {messages}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_gracefully_with_stopping_and_status_0(tmp_path: Path, sig: int) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    port = free_port()
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen(
        [sys.executable, "-c", APP, f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        messages = receive_until(notify, "READY=1", 20)
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text == "hello"
        assert receive_until(notify, "WATCHDOG=1", 5)
        proc.send_signal(sig)
        messages = receive_until(notify, "STOPPING=1", 10)
        assert proc.wait(10) == 0
        output = proc.stdout.read() if proc.stdout else ""
        assert "returned" in output
        assert f"stopping signal={signal.Signals(sig).name}" in output
    finally:
        if proc.poll() is None:
            proc.kill()
        notify.close()
    assert messages
